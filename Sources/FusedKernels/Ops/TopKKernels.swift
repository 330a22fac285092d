/// OpenCL launch code of `Kernels/topk.cl`: one work-item per `rowsPerItem` rows, no
/// barriers (`TuningParameters.topKRowsPerItem`, fewer for few rows); rows too few for
/// the compute units are split into column shards.
extension Engine {
    /// Runs `softmax_topk` (or `topk`) on `x`; returns the values and indices buffers.
    func launchTopK(_ x: CLBuffer, shape: Shape, dtype: DType, k: Int, scale: Float, softmax: Bool,
                    on context: OpenCLContext) throws -> (values: CLBuffer, indices: CLBuffer) {
        let tuning = self.tuning
        let computeUnits = context.device.computeUnits
        let rowsPerItem = tuning.rowsPerItem(tuning.topKRowsPerItem, rows: shape.rows, computeUnits: computeUnits)
        let options = ["-DTOPK=\(k)", "-DDTYPE=\(dtype.kernelCode)", "-DROWS_PER_ITEM=\(rowsPerItem)", "-DWG_SIZE=1"]
        let values = try context.makeBuffer(bytes: shape.rows * k * dtype.byteCount)
        let indices = try context.makeBuffer(bytes: shape.rows * k * 4)
        if let layout = tuning.shardLayout(shape, computeUnits: computeUnits) {
            try launchTopKShards(x, shape: shape, k: k, scale: scale, softmax: softmax, layout: layout,
                                 options: options, values: values, indices: indices, on: context)
            return (values, indices)
        }
        let kernel = try kernel(softmax ? "softmax_topk" : "topk", file: "topk.cl", options: options, on: context)
        try kernel.setArg(0, x)
        try kernel.setArg(1, values)
        try kernel.setArg(2, indices)
        try kernel.setArg(3, Int32(shape.rows))
        try kernel.setArg(4, Int32(shape.cols))
        if softmax { try kernel.setArg(5, scale) }
        let items = (shape.rows + rowsPerItem - 1) / rowsPerItem
        record(try context.enqueue(kernel, global: items, local: 1))
        return (values, indices)
    }

    /// `[softmax_]topk_shards` (k candidates and (m, d) or a NaN flag per row and shard),
    /// then `[softmax_]topk_merge` (one item per row).
    private func launchTopKShards(_ x: CLBuffer, shape: Shape, k: Int, scale: Float, softmax: Bool,
                                  layout: ShardLayout, options: [String], values: CLBuffer, indices: CLBuffer,
                                  on context: OpenCLContext) throws {
        let items = shape.rows * layout.shards
        let candidateValues = try context.makeBuffer(bytes: items * k * 4)
        let candidateIndices = try context.makeBuffer(bytes: items * k * 4)
        let stats = try context.makeBuffer(bytes: items * 2 * 4)
        let prefix = softmax ? "softmax_topk" : "topk"
        let shards = try kernel(prefix + "_shards", file: "topk.cl", options: options, on: context)
        let merge = try kernel(prefix + "_merge", file: "topk.cl", options: options, on: context)
        try shards.setArg(0, x)
        try shards.setArg(1, candidateValues)
        try shards.setArg(2, candidateIndices)
        try shards.setArg(3, stats)
        try shards.setArg(4, Int32(shape.rows))
        try shards.setArg(5, Int32(shape.cols))
        try shards.setArg(6, Int32(layout.shardColumns))
        try shards.setArg(7, Int32(layout.shards))
        if softmax { try shards.setArg(8, scale) }
        record(try context.enqueue(shards, global: items, local: 1))
        try merge.setArg(0, candidateValues)
        try merge.setArg(1, candidateIndices)
        try merge.setArg(2, stats)
        try merge.setArg(3, values)
        try merge.setArg(4, indices)
        try merge.setArg(5, Int32(shape.rows))
        try merge.setArg(6, Int32(layout.shards))
        record(try context.enqueue(merge, global: shape.rows, local: 1))
    }
}
