/// Top-k on OpenCL (`Kernels/topk/`): one work-item per `rowsPerItem` rows, no barriers
/// (`TopKTuning.rowsPerItem`, fewer for few rows); rows too few for the
/// compute units are split into column shards whose candidates one item per row merges.
extension Engine {
    func encodeTopK(_ x: KernelRows, dtype: DType, k: Int, scale: Float, softmax: Bool, into result: TopK,
                    on context: OpenCLContext) throws {
        let shape = Shape(rows: x.layout.rows, cols: x.layout.cols)
        let tuning = self.tuning
        let computeUnits = context.device.computeUnits
        let rowsPerItem = tuning.rowsPerItem(tuning.topK.rowsPerItem, rows: shape.rows, computeUnits: computeUnits)
        let prefix = softmax ? "softmax_topk" : "topk"
        let spec = { (entry: String) in
            KernelSpec(file: "topk/\(prefix).cl", entry: entry, defines: [
                "TOPK": k, "DTYPE": dtype.kernelCode, "ROWS_PER_ITEM": rowsPerItem, "WG_SIZE": 1,
            ])
        }
        let input = KernelRows.arguments(softmax ? "x" : "p", x) + ["rows": .int(shape.rows), "cols": .int(shape.cols)]
            + (softmax ? ["scale": .float(scale)] : [:])
        let outputs: KernelArguments = [
            "values": .buffer(try outputRows(result.values).buffer), "indices": .buffer(try outputRows(result.indices).buffer),
        ]
        guard let layout = tuning.shardLayout(shape, computeUnits: computeUnits) else {
            try launch(spec(prefix), .linear((shape.rows + rowsPerItem - 1) / rowsPerItem, groupSize: 1), input + outputs,
                       on: context)
            return
        }
        let items = shape.rows * layout.shards
        let candidates: KernelArguments = [
            "cand_z": .buffer(try context.makeBuffer(bytes: items * k * 4)),
            "cand_i": .buffer(try context.makeBuffer(bytes: items * k * 4)),
            "stats": .buffer(try context.makeBuffer(bytes: items * 2 * 4)),
        ]
        try launch(spec(prefix + "_shards"), .linear(items, groupSize: 1),
                   input + candidates + ["shard_cols": .int(layout.shardColumns), "shards": .int(layout.shards)],
                   on: context)
        try launch(spec(prefix + "_merge"), .linear(shape.rows, groupSize: 1),
                   candidates + outputs + ["rows": .int(shape.rows), "shards": .int(layout.shards)], on: context)
    }
}
