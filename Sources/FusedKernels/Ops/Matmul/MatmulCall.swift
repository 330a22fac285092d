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
