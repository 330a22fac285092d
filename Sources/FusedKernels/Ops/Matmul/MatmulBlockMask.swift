/// A block-skip mask on op(A) for `encodeMatmul`, for ops whose A has whole blocks known
/// to be zero (cut cross-entropy's filtered gradient chunks): entry (R, P), a byte at
/// `offset + R·rowStride + P·colStride` of `buffer`, covers op(A)'s rows
/// [R·rows, (R+1)·rows) × columns [P·cols, (P+1)·cols); 0 promises that block is all zeros,
/// and a work-group skips a k-block whose entries are all 0. Shared by every batch.
/// The CPU path does not use it (the product is the same). See `matmul.cl`.
struct MatmulBlockMask {
    let buffer: CLBuffer
    let offset: Int64
    let rowStride: Int64
    let colStride: Int64
    let rows: Int
    let cols: Int

    init(buffer: CLBuffer, offset: Int64, rowStride: Int64, colStride: Int64, rows: Int, cols: Int) {
        (self.buffer, self.offset, self.rowStride, self.colStride, self.rows, self.cols) =
            (buffer, offset, rowStride, colStride, rows, cols)
    }

    /// The mask of `call`'s op(A) in a device `.bool` tensor of shape [⌈m / rows⌉, ⌈k / cols⌉],
    /// any view: a transposed A takes the transposed view of its own mask.
    init(_ mask: Tensor, rows: Int, cols: Int, for call: MatmulCall) throws {
        guard mask.dtype == .bool else {
            throw FusedKernelsError.dtypeMismatch(argument: "aMask", expected: .bool, actual: mask.dtype)
        }
        guard rows >= 1, cols >= 1 else {
            throw FusedKernelsError.invalidArgument(argument: "aMask", reason: "blocks of \(rows) x \(cols) elements")
        }
        let shape = [(call.m + rows - 1) / rows, (call.k + cols - 1) / cols]
        guard mask.shape == shape else {
            throw FusedKernelsError.shapeMismatch(argument: "aMask", expected: shape, actual: mask.shape)
        }
        self.init(buffer: try mask.deviceBuffer("aMask"), offset: mask.offset, rowStride: mask.strides[0], colStride: mask.strides[1],
                  rows: rows, cols: cols)
    }
}
