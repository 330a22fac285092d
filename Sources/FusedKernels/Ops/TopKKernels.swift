/// OpenCL launch code of `Kernels/topk.cl`: one work-item per `rowsPerItem` rows, no
/// barriers (`TuningParameters.topKRowsPerItem`, fewer for few rows).
extension Engine {
    /// Runs `softmax_topk` (or `topk`) on `x`; returns the values and indices buffers.
    func launchTopK(_ x: CLBuffer, shape: Shape, dtype: DType, k: Int, scale: Float, softmax: Bool,
                    on context: OpenCLContext) throws -> (values: CLBuffer, indices: CLBuffer) {
        let name = softmax ? "softmax_topk" : "topk"
        let rowsPerItem = tuning.rowsPerItem(tuning.topKRowsPerItem, rows: shape.rows,
                                             computeUnits: context.device.computeUnits)
        let kernel = try kernel(name, file: "topk.cl", options: [
            "-DTOPK=\(k)", "-DDTYPE=\(dtype.kernelCode)", "-DROWS_PER_ITEM=\(rowsPerItem)", "-DWG_SIZE=1",
        ], on: context)
        let values = try context.makeBuffer(bytes: shape.rows * k * dtype.byteCount)
        let indices = try context.makeBuffer(bytes: shape.rows * k * 4)
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
}
