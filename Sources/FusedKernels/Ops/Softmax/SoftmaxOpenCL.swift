/// The softmax family on OpenCL (`SoftmaxKernels`): executes a `SoftmaxPlan` or a
/// `SoftmaxBackwardPlan`, binding each launch's arguments by name.
extension Engine {
    /// The plan of `call`'s forward on `context`'s device.
    func softmaxPlan(_ call: SoftmaxCall, on context: OpenCLContext) -> SoftmaxPlan {
        SoftmaxPlan(call, device: context.device, tuning: tuning, gpu: usesGPUShape(call.options.preset, on: context.device))
    }

    /// Runs the forward of `call` into `output` (the statistics output writes one (m, d)
    /// pair of floats per row). `rowFactor` multiplies each row's softmax by a per-row
    /// factor (the log-sum-exp backward). The caller has prepared `plan`.
    func encodeSoftmaxForward(_ call: SoftmaxCall, plan: SoftmaxPlan, into output: KernelRows, rowFactor: CLBuffer? = nil,
                              on context: OpenCLContext) throws {
        let shape = call.shape
        let common = KernelRows.arguments("x", try kernelRows(call.x, on: context))
            + KernelRows.arguments("add_mask", try call.additive.map { try kernelRows($0, on: context) })
            + KernelRows.arguments("bool_mask", try call.keep.map { try kernelRows($0, on: context) })
            + ["rows": .int(shape.rows), "cols": .int(shape.cols), "scale": .float(call.options.scale)]
        let outputs = KernelRows.arguments("y", output) + ["row_factor": .buffer(rowFactor)]
        switch plan.layout {
        case .rows:
            try launch(plan.launches[0], common + outputs, on: context)
        case .groupRows(let groups):
            try launch(plan.launches[0], common + outputs + ["row_items": .int(groups.rowItems)], on: context)
        case .shards(let layout), .groupShards(let layout, _):
            let stats = try scratchPool.take(bytes: plan.scratchBytes, on: context)
            defer { scratchPool.give(stats) }
            let shards: KernelArguments = ["shard_cols": .int(layout.shardColumns), "shards": .int(layout.shards),
                                           "stats": .buffer(stats)]
            try launch(plan.launches[0], common + shards, on: context)
            try launch(plan.launches[1], common + shards + outputs, on: context)
        }
    }

    /// The backward of softmax or log-softmax.
    func encodeSoftmaxBackward(kind: SoftmaxKind, y: Tensor, dy: Tensor, dx: Tensor, scale: Float,
                               preset: KernelPreset, on context: OpenCLContext) throws {
        let rows = try kernelRows(y, on: context)
        let plan = SoftmaxBackwardPlan(kind: kind, shape: Shape(rows: rows.layout.rows, cols: rows.layout.cols),
                                       dtype: y.dtype, device: context.device, tuning: tuning,
                                       gpu: usesGPUShape(preset, on: context.device))
        try prepare(plan, on: context)
        let arguments = KernelRows.arguments("y", rows) + KernelRows.arguments("dy", try kernelRows(dy, on: context))
            + KernelRows.arguments("dx", try outputRows(dx))
            + ["rows": .int(rows.layout.rows), "cols": .int(rows.layout.cols), "scale": .float(scale)]
        try launch(plan.launches[0], arguments + (plan.rowItems.map { ["row_items": .int($0)] } ?? [:]), on: context)
    }
}
