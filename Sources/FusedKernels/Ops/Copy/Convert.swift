/// Conversion between floating storage types, fp32, fp16 and bf16 in any combination
/// (`Kernels/copy/convert.cl` on OpenCL, the host conversions on the CPU path): e.g. an
/// fp32 gradient accumulated by a mixed-precision matmul, stored back as its weights'
/// dtype. Narrowing rounds to nearest even, NaN stays NaN, ±inf stay ±inf and values
/// past the target's range become ±inf; widening is exact.
extension Engine {
    /// A new contiguous tensor with the elements of the view `x` as `dtype`.
    public func convert(_ x: Tensor, to dtype: DType) throws -> Tensor {
        try checkFloatingInput(x, "x")
        guard dtype.isFloatingPoint else {
            throw FusedKernelsError.dtypeMismatch(argument: "dtype", expected: .float32, actual: dtype)
        }
        let y = try empty(shape: x.shape, dtype: dtype)
        try runConvert(x, into: y)
        return y
    }

    /// Converts the view `x` into `y`, of x's shape and any floating dtype: rows with unit
    /// column stride that do not overlap, no storage shared with x. Returns where it ran.
    @discardableResult
    public func convert(_ x: Tensor, into y: Tensor) throws -> Backend {
        try checkFloatingInput(x, "x")
        try checkFloatingInput(y, "y")
        try checkOutput(y, "y", shape: x.shape, dtype: y.dtype, inputs: [x])
        return try runConvert(x, into: y)
    }

    @discardableResult
    private func runConvert(_ x: Tensor, into y: Tensor) throws -> Backend {
        try dispatch("convert", openCL: { context in
            try encodeConvert(x, into: y, on: context)
        }, cpu: {
            try y.store(try x.floatElements())
        }).1
    }

    /// `convert.cl` over y's rows (also the last step of ops that accumulate in fp32).
    func encodeConvert(_ x: Tensor, into y: Tensor, on context: OpenCLContext) throws {
        let (source, output) = (try x.deviceBuffer("x"), try outputRows(y))
        let rows = output.layout
        let spec = KernelSpec(file: "copy/convert.cl", entry: "convert", defines: [
            "DTYPE": x.dtype.kernelCode, "OUT_DTYPE": y.dtype.kernelCode,
        ])
        try launch(spec, .linear(rows.rows, groupSize: 1), [
            "src": .buffer(source), "dst": .buffer(output.buffer), "src_offset": .int64(x.offset),
            "dst_offset": .int64(Int64(rows.offset)), "dst_row_stride": .int64(Int64(rows.rowStride)),
        ] + x.viewArguments, on: context)
    }
}
