#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

/// How the CPU path forms the logits z = E·Cᵀ + b of a linear cross-entropy without the
/// N×V matrix: block by block, vocabulary blocks outer (each block of C is read from
/// memory once; E, N·D, is read again per block, from the cache) and token blocks inner.
/// A block's logits come from one `cblas_sgemm` into one reused buffer, E and C passed in
/// place when they are fp32 host views the BLAS can address, else copied block by block.
///
/// Block size, 1024 tokens × 512 columns (2 MB of logits, ≤ 1 % of the logits the op
/// avoids at the acceptance shape N = 1024, V = 65536). Tall blocks keep the BLAS's
/// threads on one large sgemm per block: at that shape, interleaved on 2 cores, 1024 × 512
/// ran 787–1014 ms against 882–1123 ms for 256 × 1024 (0.90 vs 0.82 of a whole sgemm's
/// rate in the quieter round). The block is also the CPU path's gradient-filter
/// granularity: the backward skips whole blocks.
final class CrossEntropyBlocks {
    static let tokenCount = 1024
    static let columnCount = 512

    let call: CrossEntropyCall
    /// Per token, the shard column of its target; nil when ignored or in another shard.
    let targetColumns: [Int?]
    private let buffer: UnsafeMutablePointer<Float>
    private let arena: ScratchArena
    /// Per kind of block copy (E, C, gradients), the largest made: they are transient, so
    /// the arena counts each kind's peak once.
    private var copyPeaks: [String: Int] = [:]

    init(_ call: CrossEntropyCall, arena: ScratchArena) {
        self.call = call
        self.arena = arena
        let lower = call.shard.range.lowerBound
        targetColumns = call.targetValues.map { target in
            target == call.options.ignoreIndex || !call.shard.range.contains(Int(target)) ? nil : Int(target) - lower
        }
        let elements = min(Self.tokenCount, call.n) * min(Self.columnCount, call.columns)
        buffer = .allocate(capacity: elements)
        arena.note(bytes: elements * MemoryLayout<Float>.size + call.n * MemoryLayout<Int?>.stride)
    }

    /// Frees the logits buffer and counts the block copies' peaks.
    func close() {
        buffer.deallocate()
        arena.note(bytes: copyPeaks.values.reduce(0, +))
    }

    var columnRanges: [Range<Int>] { Self.ranges(call.columns, by: Self.columnCount) }
    var tokenRanges: [Range<Int>] { Self.ranges(call.n, by: Self.tokenCount) }

    /// Counts a transient block copy of `kind`.
    func noteCopy(_ kind: String, bytes: Int) { copyPeaks[kind] = max(copyPeaks[kind] ?? 0, bytes) }

    /// The classifier rows and bias entries of one vocabulary block.
    func columnBlock(_ columns: Range<Int>) throws -> ColumnBlock {
        let classifier = try BLASOperand(BatchedMatrix(call.classifier.slice(axis: 0, columns), "classifier",
                                                      transposed: false))
        noteCopy("classifier", bytes: classifier.copiedBytes)
        // The bias block is small (4 KB): always a copy, whatever its dtype and strides.
        let bias = try call.bias.map { try $0.slice(axis: 0, columns).floatElements() }
        noteCopy("bias", bytes: bias.map { $0.count * MemoryLayout<Float>.size } ?? 0)
        return ColumnBlock(range: columns, classifier: classifier, bias: bias)
    }

    /// The logits of `tokens` × the block's columns (raw E·Cᵀ; rows are finished, with the
    /// bias and the soft-cap, by `LogitBlock.forEachRow`).
    func logits(_ tokens: Range<Int>, _ block: ColumnBlock) throws -> LogitBlock {
        let embeddings = try BLASOperand(BatchedMatrix(call.embeddings.slice(axis: 0, tokens), "embeddings",
                                                      transposed: false))
        noteCopy("embeddings", bytes: embeddings.copiedBytes)
        let (m, n) = (tokens.count, block.range.count)
        cblas_sgemm(CblasRowMajor, embeddings.transpose, flipped(block.classifier.transpose), Int32(m), Int32(n),
                    Int32(call.d), 1, embeddings.matrix(0), Int32(embeddings.leading), block.classifier.matrix(0),
                    Int32(block.classifier.leading), 0, buffer, Int32(n))
        return LogitBlock(tokens: tokens, columns: block.range, z: buffer, embeddings: embeddings, bias: block.bias,
                          softCap: call.options.softCap)
    }

    private static func ranges(_ count: Int, by size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { $0 ..< min(count, $0 + size) }
    }
}

/// One vocabulary block's operands.
struct ColumnBlock {
    /// Shard columns.
    let range: Range<Int>
    let classifier: BLASOperand
    let bias: [Float]?
}

/// One block's logits, `tokens.count` rows of `columns.count`, in the shared buffer.
struct LogitBlock {
    let tokens: Range<Int>
    /// Shard columns.
    let columns: Range<Int>
    let z: UnsafeMutablePointer<Float>
    let embeddings: BLASOperand
    let bias: [Float]?
    let softCap: Float?

    /// Runs `body(token, row)` on every row, in parallel, once the row holds its final
    /// logits (bias added, soft-capped). Each row is its own work: results do not depend
    /// on the threads.
    func forEachRow(_ body: (_ token: Int, _ row: UnsafeMutablePointer<Float>) -> Void) {
        let cols = columns.count
        let finish = { (row: UnsafeMutablePointer<Float>) in
            if let bias = self.bias {
                bias.withUnsafeBufferPointer { finishLogits(row, count: cols, bias: $0.baseAddress, softCap: self.softCap) }
            } else if self.softCap != nil {
                finishLogits(row, count: cols, bias: nil, softCap: self.softCap)
            }
        }
        parallelRows(tokens.count, cols: cols) { rows in
            for r in rows {
                let row = z + r * cols
                finish(row)
                body(tokens.lowerBound + r, row)
            }
        }
    }
}

/// The transpose flag of the other orientation of the same stored matrix.
func flipped(_ transpose: CBLAS_TRANSPOSE) -> CBLAS_TRANSPOSE {
    transpose == CblasNoTrans ? CblasTrans : CblasNoTrans
}
