/// Matrix multiply, the tiles cut cross-entropy and attention are made of:
/// C = α·op(A)·op(B) + β·C, with op(X) = X or Xᵀ, batched over a leading axis, stored
/// as fp32, fp16 or bf16 (accumulation in fp32; C may be fp32 when A and B are fp16 or
/// bf16: mixed precision). A is `[m, k]` or `[batch, m, k]` (`[k, m]` … with
/// `transposeA`), B `[k, n]` or `[batch, k, n]`; a rank-2 operand (or a batch extent 1)
/// is shared by every batch. Any view works: transposes and slices are strides
/// (`MatmulOpenCL.swift` on OpenCL, a BLAS on the CPU path, `MatmulCPU.swift`).
extension Engine {
    /// A new `[m, n]` (or `[batch, m, n]`) tensor α·op(A)·op(B), in A's dtype.
    ///
    /// - Parameters:
    ///   - a: A, `[m, k]` or `[batch, m, k]` (`[k, m]` … with `transposeA`).
    ///   - b: B, `[k, n]` or `[batch, k, n]` (`[n, k]` … with `transposeB`), A's dtype.
    ///   - transposeA: use Aᵀ (a view, nothing is copied).
    ///   - transposeB: use Bᵀ.
    ///   - alpha: the finite factor α.
    ///   - preset: the kernel's tiling on OpenCL (ignored on the CPU path).
    /// - Throws: ``FusedKernelsError`` for operands that are not rank 2 or 3, of different
    ///   dtypes, with inner dimensions or batches that do not match, or a non-finite α.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                       alpha: Float = 1, preset: KernelPreset = .auto) throws -> Tensor {
        let call = try MatmulCall(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: 0, engine: self)
        let c = try empty(shape: call.outputShape, dtype: a.dtype)
        try runMatmul(call, into: c, preset: preset)
        return c
    }

    /// C = α·op(A)·op(B) + β·C into `c`: the output shape, A's dtype or fp32 (the fp32
    /// sums of fp16/bf16 operands kept unrounded, e.g. a gradient accumulated over many
    /// calls), unit column stride, rows that do not overlap, no storage shared with A or
    /// B. With β = 0, C is never read (it may hold NaN). Returns where it ran.
    @discardableResult
    public func matmul(_ a: Tensor, _ b: Tensor, into c: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                       alpha: Float = 1, beta: Float = 0, preset: KernelPreset = .auto) throws -> Backend {
        let call = try MatmulCall(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta,
                                  engine: self)
        let dtype: DType = c.dtype == .float32 ? .float32 : a.dtype
        try checkOutput(c, "c", shape: call.outputShape, dtype: dtype, inputs: [a, b])
        return try runMatmul(call, into: c, preset: preset)
    }

    @discardableResult
    private func runMatmul(_ call: MatmulCall, into c: Tensor, preset: KernelPreset) throws -> Backend {
        try dispatch("matmul", openCL: { context in
            try encodeMatmul(call, into: c, preset: preset, on: context)
        }, cpu: {
            try cpuMatmul(call, into: c)
        }).1
    }
}
