/// Top-k on OpenCL (`TopKKernels`): executes a `TopKPlan`, binding each launch's
/// arguments by name.
extension Engine {
    func encodeTopK(_ call: TopKCall, into result: TopK, on context: OpenCLContext) throws {
        let plan = TopKPlan(k: call.k, softmax: call.softmax, shape: call.shape, dtype: call.x.dtype,
                            device: context.device, tuning: tuning, gpu: usesGPUShape(call.preset, on: context.device))
        try prepare(plan, on: context)
        let input = KernelRows.arguments(call.softmax ? "x" : "p", try kernelRows(call.x, on: context))
            + ["rows": .int(call.shape.rows), "cols": .int(call.shape.cols)]
            + (call.softmax ? ["scale": .float(call.scale)] : [:])
        let outputs: KernelArguments = [
            "values": .buffer(try outputRows(result.values).buffer), "indices": .buffer(try outputRows(result.indices).buffer),
        ]
        guard let shards = plan.shards else {
            try launch(plan.launches[0], input + outputs, on: context)
            return
        }
        let scratch = try [plan.candidateBytes, plan.candidateBytes, plan.statsBytes].map {
            try scratchPool.take(bytes: $0, on: context)
        }
        defer { scratch.forEach(scratchPool.give) }
        let candidates: KernelArguments = [
            "cand_z": .buffer(scratch[0]), "cand_i": .buffer(scratch[1]), "stats": .buffer(scratch[2]),
        ]
        try launch(plan.launches[0], input + candidates + ["shard_cols": .int(shards.shardColumns), "shards": .int(shards.shards)],
                   on: context)
        try launch(plan.launches[1], candidates + outputs + ["rows": .int(call.shape.rows), "shards": .int(shards.shards)],
                   on: context)
    }
}
