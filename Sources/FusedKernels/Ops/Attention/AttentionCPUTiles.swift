#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif
import Foundation

/// The CPU path's attention tile: the scores of a block of query rows × a block of keys
/// of one head, S = Q·Kᵀ by one sgemm, finished row by row with the options of
/// `AttentionOptions` (scale, ALiBi, additive mask; −∞ where the keep mask, causal or
/// the window removes the key), and the activations applied to a tile's rows. Q, K and
/// V are dense fp32 host copies of the whole tensors (in place when they already are),
/// O(B·H·L·D); a tile is at most `rowCount` × `keyCount` floats, never Lq × Lk.
struct AttentionTiles {
    /// Query rows per block: 128 rows × D floats of Q, dO and O stay in L2 beside a tile.
    static let rowCount = 128
    /// Keys per block: a tile of 128 × 256 floats is 128 KiB.
    static let keyCount = 256

    let call: AttentionCall
    let q: HostFloatCopy
    let k: HostFloatCopy
    let v: HostFloatCopy
    let additive: ScoreMask<Float>?
    let keep: ScoreMask<UInt8>?

    init(_ call: AttentionCall, arena: ScratchArena) throws {
        self.call = call
        (q, k, v) = (try HostFloatCopy(call.query, arena), try HostFloatCopy(call.key, arena),
                     try HostFloatCopy(call.value, arena))
        additive = try call.additiveMask.map { try ScoreMask($0, arena) }
        keep = try call.keepMask.map { try ScoreMask($0, arena) }
    }

    func release() { [q, k, v].forEach { $0.release() } }

    /// The first element of query head h's rows in a `[B, Hq, Lq, D]` tensor.
    func queryHead(_ b: Int, _ h: Int) -> Int { (b * call.heads + h) * call.lq * call.d }
    /// The first element of the keys (or values) query head h reads.
    func keyHead(_ b: Int, _ h: Int) -> Int { (b * call.kvHeads + h / call.headsPerKV) * call.lk * call.d }

    /// The blocks of query rows of a head.
    var rowBlocks: [Range<Int>] { blocks(0 ..< call.lq, by: Self.rowCount) }
    /// The blocks of keys of a head.
    var keyBlocks: [Range<Int>] { blocks(0 ..< call.lk, by: Self.keyCount) }

    /// Blocks of the keys some row of `rows` keeps by the causal/window band (key blocks
    /// the band removes entirely are never computed). Both ends of a row's band grow with
    /// the row, so the union runs from the first row's start to the last row's end.
    func keyBlocks(rows: Range<Int>) -> [Range<Int>] {
        let (first, last) = (call.keyRange(row: rows.lowerBound), call.keyRange(row: rows.upperBound - 1))
        return blocks(first.lowerBound ..< max(first.lowerBound, last.upperBound), by: Self.keyCount)
    }

    /// Blocks of the query rows that keep some key of `keys` by the band.
    func rowBlocks(keys: Range<Int>) -> [Range<Int>] {
        let (first, last) = (call.queryRange(key: keys.lowerBound), call.queryRange(key: keys.upperBound - 1))
        return blocks(first.lowerBound ..< max(first.lowerBound, last.upperBound), by: Self.rowCount)
    }

    /// The finished scores of rows × keys of head (b, h) into `s` (row-major, `keys.count`
    /// per row).
    func scores(_ b: Int, _ h: Int, rows: Range<Int>, keys: Range<Int>, into s: UnsafeMutablePointer<Float>) {
        let (d, n) = (call.d, keys.count)
        tileGemm(m: rows.count, n: n, k: d, 1, q.pointer + queryHead(b, h) + rows.lowerBound * d, d,
                 k.pointer + keyHead(b, h) + keys.lowerBound * d, d, transposeB: true, 0, s, n)
        for i in rows { finishScores(s + (i - rows.lowerBound) * n, b, h, row: i, keys: keys) }
    }

    /// One row of raw Q_i·K_j → s = scale·(Q_i·K_j) − slope·|i' − j| + mask, −∞ outside the
    /// row's band or where the keep mask is false.
    private func finishScores(_ s: UnsafeMutablePointer<Float>, _ b: Int, _ h: Int, row i: Int, keys: Range<Int>) {
        let n = keys.count
        mapRow(s, n, padding: 0) { $0 * Float16x(repeating: call.scale) }
        let band = call.keyRange(row: i).clamped(to: keys)
        let (lo, hi) = (band.lowerBound - keys.lowerBound, band.upperBound - keys.lowerBound)
        if let slope = call.slopes?[h] {
            let aligned = i + call.shift
            for j in lo ..< hi { s[j] -= slope * Float(abs(aligned - keys.lowerBound - j)) }
        }
        if let additive {
            let (base, step) = (additive.index(b, h, i, keys.lowerBound), additive.strides[3])
            for j in lo ..< hi { s[j] += additive.values[base + j * step] }
        }
        if let keep {
            let (base, step) = (keep.index(b, h, i, keys.lowerBound), keep.strides[3])
            for j in lo ..< hi where keep.values[base + j * step] == 0 { s[j] = -.infinity }
        }
        for j in 0 ..< lo { s[j] = -.infinity }
        for j in hi ..< n { s[j] = -.infinity }
    }

    private func blocks(_ range: Range<Int>, by size: Int) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: size).map { $0 ..< min(range.upperBound, $0 + size) }
    }
}

/// C = alpha·op(A)·op(B) + beta·C (row-major, C m × n, op(A) m × k) by `cblas_sgemm`, in
/// bands of rows small enough that OpenBLAS runs each on the calling thread (it threads a
/// call only above M·N·K = 2¹⁸, interface/gemm.c; 16 rows of a 256-key tile at D 64). The
/// CPU path's tasks already keep every core busy, and OpenBLAS's threads spinning beside
/// them made the softmax forward at B1 H8 L2048 D64 13× slower (3.5 against 44 GFLOP/s on
/// 2 shared cores). Every element of C is still one call's, summed over k in the BLAS's
/// fixed order.
func tileGemm(m: Int, n: Int, k: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, transposeA: Bool = false,
              _ b: UnsafePointer<Float>, _ ldb: Int, transposeB: Bool = false, _ beta: Float,
              _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    let band = max(1, (1 << 18) / max(1, n * k))
    for first in stride(from: 0, to: m, by: band) {
        let rows = min(band, m - first)
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(rows), Int32(n), Int32(k), alpha, a + (transposeA ? first : first * lda), Int32(lda),
                    b, Int32(ldb), beta, c + first * ldc, Int32(ldc))
    }
}

/// P = σ(s + bias) in place over a row (−∞ scores give 0).
func sigmoidRow(_ s: UnsafeMutablePointer<Float>, _ n: Int, bias: Float) {
    let (one, b) = (Float16x(repeating: 1), Float16x(repeating: bias))
    mapRow(s, n, padding: 0) { one / (one + vexp(-($0 + b))) }
}

/// P = e^(s − shift) in place over a row; returns Σ P. Needs a finite shift.
func expRow(_ s: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
    let m = Float16x(repeating: shift)
    var sum = Float16x(repeating: 0)
    mapRow(s, n, padding: -.infinity) { x in
        let p = vexp(x - m)
        sum += p
        return p
    }
    return sum.sum()
}

/// The largest score of a row: −∞ for a fully removed row, NaN if a score is NaN (so that
/// a NaN row's O and LSE are NaN, not those of a removed row).
func rowMax(_ s: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    var (top, nan) = (Float16x(repeating: -.infinity), Float16x(repeating: 0))
    mapRow(s, n, padding: -.infinity) { x in
        top.replace(with: x, where: x .> top)
        nan.replace(with: .nan, where: x .!= x)
        return x
    }
    return nan.sum().isNaN ? .nan : top.max()
}

/// Replaces the n floats at p by f of them, 16 at a time; the last, partial vector is
/// padded with `padding` and only its n lanes are stored.
@inline(__always)
private func mapRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, padding: Float, _ f: (Float16x) -> Float16x) {
    var j = 0
    while j + 16 <= n {
        store16(f(load16(p + j)), p + j)
        j += 16
    }
    guard j < n else { return }
    var v = Float16x(repeating: padding)
    for lane in 0 ..< n - j { v[lane] = p[j + lane] }
    let result = f(v)
    for lane in 0 ..< n - j { p[j + lane] = result[lane] }
}

/// A mask view of `[B, Hq, Lq, Lk]` read once from its storage (only the elements the
/// caller's tensor holds; a broadcast axis has stride 0).
struct ScoreMask<T> {
    let values: [T]
    let strides: [Int]

    init(_ view: Tensor, _ arena: ScratchArena) throws {
        let (low, high) = view.storageRange
        values = try view.storage.readArray(count: high - low + 1, from: low)
        strides = view.strides.map { Int($0) }
        arena.note(bytes: values.count * MemoryLayout<T>.stride)
    }

    func index(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Int {
        b * strides[0] + h * strides[1] + i * strides[2] + j * strides[3]
    }
}

/// A tensor's elements as dense row-major fp32 host memory: in place for a dense host
/// fp32 view, else a copy (counted in the arena, freed by `release`).
final class HostFloatCopy {
    let pointer: UnsafePointer<Float>
    private let owned: UnsafeMutableBufferPointer<Float>?

    init(_ tensor: Tensor, _ arena: ScratchArena) throws {
        if let dense = tensor.denseHostFloats {
            (pointer, owned) = (dense, nil)
            return
        }
        let values = try tensor.floatElements()
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        _ = copy.initialize(from: values)
        (pointer, owned) = (UnsafePointer(copy.baseAddress!), copy)
        arena.note(bytes: values.count * MemoryLayout<Float>.size)
    }

    func release() { owned?.deallocate() }
}
