/// Matrix multiply, the tiles cut cross-entropy and attention are made of:
/// C = α·op(A)·op(B) + β·C, with op(X) = X or Xᵀ, batched over a leading axis, stored
/// as fp32, fp16 or bf16 (accumulation in fp32; C may be fp32 when A and B are fp16 or
/// bf16: mixed precision). A is `[m, k]` or `[batch, m, k]` (`[k, m]` … with
/// `transposeA`), B `[k, n]` or `[batch, k, n]`; a rank-2 operand (or a batch extent 1)
/// is shared by every batch. Any view works: transposes and slices are strides
/// (`MatmulKernels.swift` on OpenCL, a BLAS on the CPU path, `MatmulCPU.swift`).
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

/// Which tiling a kernel is built with: the one for CPU devices (work-items that do not
/// cooperate, large register tiles) or for GPU devices (cooperating work-groups,
/// `__local` tiles, coalesced loads); `auto` picks by the device's type.
public enum KernelPreset: String, Sendable, CaseIterable {
    /// The presets. `auto`: matmul and the linear cross-entropy use the device's tuned
    /// `matmul` tiles when there are some; otherwise, and for attention, `copy` and
    /// `fmaPeak` always, `gpu` on devices that are not CPUs and `cpu` on CPU devices.
    /// `cpu`: one work-item per group with large register tiles (``MatmulParameters/cpu``
    /// for matmul). `gpu`: 16 × 16 cooperating work-items with `__local` tiles
    /// (``MatmulParameters/gpu``). Ignored on the CPU path; tiles that exceed the
    /// device's work-group size or local memory throw
    /// ``FusedKernelsError/invalidArgument(argument:reason:)`` for `preset`.
    case auto, cpu, gpu
}

extension KernelPreset {
    /// Whether this preset runs a kernel's GPU shape on `device`: `gpu`, or `auto` on a
    /// device that is not a CPU (the rule of the ops without tuned tiles).
    public func picksGPUShape(on device: OpenCLDevice) -> Bool {
        self == .gpu || (self == .auto && !device.isCPU)
    }
}

/// A checked matmul: the operands as `[batch, rows, cols]` views of op(A) and op(B).
struct MatmulCall {
    let a: BatchedMatrix
    let b: BatchedMatrix
    let batch: Int
    let m: Int
    let n: Int
    let k: Int
    let alpha: Float
    let beta: Float
    let outputShape: [Int]

    init(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float,
         engine: Engine) throws {
        try engine.checkFloatingInput(a, "a")
        try engine.checkFloatingInput(b, "b")
        guard b.dtype == a.dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: "b", expected: a.dtype, actual: b.dtype)
        }
        try engine.checkFinite(alpha, "alpha")
        try engine.checkFinite(beta, "beta")
        self.a = try BatchedMatrix(a, "a", transposed: transposeA)
        self.b = try BatchedMatrix(b, "b", transposed: transposeB)
        (m, k, n) = (self.a.rows, self.a.cols, self.b.cols)
        guard self.b.rows == k else {
            throw FusedKernelsError.invalidArgument(
                argument: "b", reason: "op(b) has \(self.b.rows) rows, op(a) has \(k) columns")
        }
        guard self.a.batch == self.b.batch || self.a.batch == 1 || self.b.batch == 1 else {
            throw FusedKernelsError.invalidArgument(
                argument: "b", reason: "batch \(self.b.batch) does not match a's batch \(self.a.batch)")
        }
        batch = max(self.a.batch, self.b.batch)
        self.alpha = alpha
        self.beta = beta
        outputShape = a.rank == 3 || b.rank == 3 ? [batch, m, n] : [m, n]
    }
}

/// A rank-2 or rank-3 tensor as `batch` matrices (`rows` × `cols`) by strides; batch
/// stride 0 when one matrix serves every batch.
struct BatchedMatrix {
    let tensor: Tensor
    let batch: Int
    let rows: Int
    let cols: Int
    let batchStride: Int64
    let rowStride: Int64
    let colStride: Int64

    init(_ tensor: Tensor, _ argument: String, transposed: Bool) throws {
        guard tensor.rank == 2 || tensor.rank == 3 else {
            throw FusedKernelsError.invalidShape(argument: argument, shape: tensor.shape,
                                                 reason: "a matrix is rank 2, or rank 3 with a leading batch axis")
        }
        let view = transposed ? try tensor.transposed() : tensor
        let batched = view.rank == 3
        self.tensor = view
        batch = batched ? view.shape[0] : 1
        batchStride = batched && view.shape[0] > 1 ? view.strides[0] : 0
        (rows, cols) = (view.shape[view.rank - 2], view.shape[view.rank - 1])
        (rowStride, colStride) = (view.strides[view.rank - 2], view.strides[view.rank - 1])
    }
}
