#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// Matmul on the CPU path: one `cblas_sgemm` per batch (OpenBLAS through pkg-config,
/// Accelerate where it exists; the BLAS threads each call across cores). fp32 views the
/// BLAS can address (unit stride along rows or columns) are passed in place; other
/// dtypes and strides go through dense fp32 copies.
extension Engine {
    func cpuMatmul(_ call: MatmulCall, into c: Tensor) throws {
        let a = try BLASOperand(call.a)
        let b = try BLASOperand(call.b)
        let (m, n, k) = (Int32(call.m), Int32(call.n), Int32(call.k))
        let gemm = { (c: UnsafeMutablePointer<Float>, ldc: Int, batchStride: Int) in
            for z in 0 ..< call.batch {
                cblas_sgemm(CblasRowMajor, a.transpose, b.transpose, m, n, k, call.alpha, a.matrix(z), Int32(a.leading),
                            b.matrix(z), Int32(b.leading), call.beta, c + z * batchStride, Int32(ldc))
            }
        }
        let output = try OutputMatrix(c, m: call.m)
        if c.dtype == .float32, case .host(let host) = c.storage.location {
            return gemm(host.bytes.assumingMemoryBound(to: Float.self) + Int(c.offset), Int(output.rowStride),
                        Int(output.batchStride))
        }
        // Another dtype, or a device tensor after a kernel fell back: through a dense copy.
        var values = call.beta == 0 ? [Float](repeating: 0, count: c.count) : try c.floatElements()
        values.withUnsafeMutableBufferPointer { gemm($0.baseAddress!, call.n, call.m * call.n) }
        try c.store(values)
    }
}

/// A matrix operand as a BLAS takes it: a pointer per batch, a transpose flag and a
/// leading dimension. Kept alive with any dense copy it needed (also used by the
/// cross-entropy's CPU path, one block of rows at a time).
struct BLASOperand {
    let transpose: CBLAS_TRANSPOSE
    let leading: Int
    private let base: UnsafePointer<Float>
    private let batchStride: Int
    private let copy: DenseFloats?

    init(_ matrix: BatchedMatrix) throws {
        let (rows, cols) = (matrix.rows, matrix.cols)
        if matrix.tensor.dtype == .float32, case .host(let host) = matrix.tensor.storage.location,
           let (transpose, leading) = Self.layout(matrix) {
            base = UnsafePointer(host.bytes.assumingMemoryBound(to: Float.self) + Int(matrix.tensor.offset))
            batchStride = Int(matrix.batchStride)
            (self.transpose, self.leading, copy) = (transpose, leading, nil)
            return
        }
        let dense = DenseFloats(try matrix.tensor.floatElements())
        copy = dense
        base = UnsafePointer(dense.values.baseAddress!)
        batchStride = matrix.batch > 1 ? rows * cols : 0
        (transpose, leading) = (CblasNoTrans, cols)
    }

    /// Bytes of the dense copy this operand made (0 when it points into the tensor).
    var copiedBytes: Int { copy.map { $0.values.count * MemoryLayout<Float>.size } ?? 0 }

    /// Matrix z's first element.
    func matrix(_ z: Int) -> UnsafePointer<Float> { base + (batchStride == 0 ? 0 : z * batchStride) }

    /// Row-major with unit column stride, or its transpose with unit row stride.
    private static func layout(_ matrix: BatchedMatrix) -> (CBLAS_TRANSPOSE, Int)? {
        let (rows, cols) = (matrix.rows, matrix.cols)
        let (rowStride, colStride) = (Int(matrix.rowStride), Int(matrix.colStride))
        if colStride == 1 || cols == 1, rows == 1 || rowStride >= cols { return (CblasNoTrans, rows == 1 ? cols : rowStride) }
        if rowStride == 1 || rows == 1, cols == 1 || colStride >= rows { return (CblasTrans, cols == 1 ? rows : colStride) }
        return nil
    }
}

/// A dense copy of an operand in memory of its own, so that pointers into it stay valid.
private final class DenseFloats {
    let values: UnsafeMutableBufferPointer<Float>

    init(_ array: [Float]) {
        values = .allocate(capacity: max(array.count, 1))
        _ = values.initialize(from: array)
    }

    deinit { values.deallocate() }
}
