/// Top-k on OpenCL (`Kernels/topk/`). CPU preset: one work-item per `rowsPerItem` rows,
/// no barriers (`TopKTuning.rowsPerItem`, fewer for few rows). GPU preset
/// (`topk/group.cl`): a work-group per row whose items' lists merge in `__local` memory.
/// Rows too few for the device are split into column shards (an item, or a group, each)
/// whose candidates one item per row merges.
extension Engine {
    func encodeTopK(_ x: KernelRows, dtype: DType, k: Int, scale: Float, softmax: Bool, preset: KernelPreset,
                    into result: TopK, on context: OpenCLContext) throws {
        let shape = Shape(rows: x.layout.rows, cols: x.layout.cols)
        let tuning = self.tuning
        let computeUnits = context.device.computeUnits
        let rowsPerItem = tuning.rowsPerItem(tuning.topK.rowsPerItem, rows: shape.rows, computeUnits: computeUnits)
        let prefix = softmax ? "softmax_topk" : "topk"
        let rowSpec = { (entry: String) in
            KernelSpec(file: "topk/\(prefix).cl", entry: entry, defines: [
                "TOPK": k, "DTYPE": dtype.kernelCode, "ROWS_PER_ITEM": rowsPerItem, "WG_SIZE": 1,
            ])
        }
        let input = KernelRows.arguments(softmax ? "x" : "p", x) + ["rows": .int(shape.rows), "cols": .int(shape.cols)]
            + (softmax ? ["scale": .float(scale)] : [:])
        let outputs: KernelArguments = [
            "values": .buffer(try outputRows(result.values).buffer), "indices": .buffer(try outputRows(result.indices).buffer),
        ]
        let gpu = usesGPUShape(preset, on: context.device)
        let groupSize = gpu ? topKGroupSize(k: k, device: context.device) : 1
        let groupSpec = { (entry: String) in
            KernelSpec(file: "topk/group.cl", entry: entry,
                       defines: ["TOPK": k, "DTYPE": dtype.kernelCode, "WG_SIZE": groupSize])
        }
        let layout = gpu
            ? RowGroups.shards(rows: shape.rows, cols: shape.cols, groupSize: groupSize, computeUnits: computeUnits,
                               groupsPerComputeUnit: tuning.softmax.itemsPerComputeUnit)
            : tuning.shardLayout(shape, computeUnits: computeUnits)
        guard let layout else {
            if gpu {
                try launch(groupSpec(prefix + "_group"), .linear(shape.rows * groupSize, groupSize: groupSize),
                           input + outputs, on: context)
            } else {
                try launch(rowSpec(prefix), .linear((shape.rows + rowsPerItem - 1) / rowsPerItem, groupSize: 1),
                           input + outputs, on: context)
            }
            return
        }
        let items = shape.rows * layout.shards
        let candidates: KernelArguments = [
            "cand_z": .buffer(try context.makeBuffer(bytes: items * k * 4)),
            "cand_i": .buffer(try context.makeBuffer(bytes: items * k * 4)),
            "stats": .buffer(try context.makeBuffer(bytes: items * 2 * 4)),
        ]
        let shardArguments = input + candidates + ["shard_cols": .int(layout.shardColumns), "shards": .int(layout.shards)]
        if gpu {
            try launch(groupSpec(prefix + "_group_shards"), .linear(items * groupSize, groupSize: groupSize),
                       shardArguments, on: context)
        } else {
            try launch(rowSpec(prefix + "_shards"), .linear(items, groupSize: 1), shardArguments, on: context)
        }
        try launch(rowSpec(prefix + "_merge"), .linear(shape.rows, groupSize: 1),
                   candidates + outputs + ["rows": .int(shape.rows), "shards": .int(layout.shards)], on: context)
    }

    /// The GPU preset's group size for `k`: the tuned size within the device's limit,
    /// halved until the items' lists (8 bytes per candidate) take at most half the
    /// device's local memory.
    private func topKGroupSize(k: Int, device: OpenCLDevice) -> Int {
        var size = RowGroups.groupSize(tuning.topK.gpuWorkGroupSize, device: device)
        while size > 1 && UInt64(size * (k * 8 + 12)) > device.localMemoryBytes / 2 { size /= 2 }
        return size
    }
}
