#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif
import Foundation

/// The linear cross-entropy on the CPU path, block by block (`CrossEntropyBlocks`): the
/// logits of a block by one sgemm, then its rows in parallel. Deterministic: the blocks
/// go in a fixed order, each row is one task, and the BLAS splits fixed shapes the same
/// way every run.
extension Engine {
    /// Per token, the shard's (max, Σ e^(z − max), Σ z, target logit) by the online
    /// normalizer's update, one block of columns at a time.
    func cpuCrossEntropyStatistics(_ call: CrossEntropyCall, arena: ScratchArena) throws -> CrossEntropyStatistics {
        let blocks = CrossEntropyBlocks(call, arena: arena)
        defer { blocks.close() }
        let running = RunningStatistics(tokens: call.n)
        defer { running.deallocate() }
        arena.note(bytes: RunningStatistics.bytesPerToken * call.n)
        for columns in blocks.columnRanges {
            let block = try blocks.columnBlock(columns)
            for tokens in blocks.tokenRanges {
                let logits = try blocks.logits(tokens, block)
                logits.forEachRow { i, z in
                    running.add(i, z, count: columns.count,
                                target: blocks.targetColumns[i].map { $0 - columns.lowerBound })
                }
            }
        }
        return running.statistics(vocabularySize: call.shard.size)
    }

    /// dE (this shard's share), dC and dBias from the log-sum-exp and the per-token
    /// weights: per block, dZ in place of the logits, then dE += dZ·C and dC += dZᵀ·E by
    /// sgemm and dBias += dZᵀ·1 by sgemv. With a gradient filter, a block whose every
    /// |s·p − ε/V| is below it and which holds no target skips those (its dZ is 0).
    func cpuCrossEntropyBackward(_ call: CrossEntropyCall, logSumExp: [Float], weights: [Float],
                                 into gradients: LinearCrossEntropyGradients, arena: ScratchArena) throws {
        let blocks = CrossEntropyBlocks(call, arena: arena)
        defer { blocks.close() }
        let options = call.options
        let rows = { (i: Int, columns: Range<Int>) in
            GradientRow(logSumExp: logSumExp[i], weight: weights[i], scale: 1 + 2 * options.zLoss * logSumExp[i],
                        uniform: options.labelSmoothing / Float(call.shard.size), targetWeight: 1 - options.labelSmoothing,
                        target: blocks.targetColumns[i].flatMap { columns.contains($0) ? $0 - columns.lowerBound : nil },
                        softCap: options.softCap)
        }
        let ones = [Float](repeating: 1, count: CrossEntropyBlocks.tokenCount)
        var measures = [Float](repeating: 0, count: CrossEntropyBlocks.tokenCount)
        arena.note(bytes: 2 * CrossEntropyBlocks.tokenCount * MemoryLayout<Float>.size)
        let d = call.d
        try gradients.embeddings.accumulateFloats(counting: arena) { dE in
            try accumulateFloats(gradients.bias, counting: arena) { dBias in
                for columns in blocks.columnRanges {
                    let block = try blocks.columnBlock(columns)
                    let dCBlock = try gradients.classifier.slice(axis: 0, columns)
                    if dCBlock.denseHostFloats == nil { blocks.noteCopy("dC", bytes: dCBlock.count * MemoryLayout<Float>.size) }
                    try dCBlock.accumulateFloats(counting: nil) { dC in
                        for tokens in blocks.tokenRanges {
                            let logits = try blocks.logits(tokens, block)
                            measures.withUnsafeMutableBufferPointer { measures in
                                logits.forEachRow { i, z in
                                    measures[i - tokens.lowerBound] = rows(i, columns)(z, count: columns.count)
                                }
                            }
                            if let filter = options.gradientFilter,
                               measures[..<tokens.count].allSatisfy({ $0 < filter }),
                               !tokens.contains(where: { blocks.targetColumns[$0].map(columns.contains) ?? false }) {
                                continue
                            }
                            let (m, n) = (Int32(tokens.count), Int32(columns.count))
                            let (e, c) = (logits.embeddings, block.classifier)
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, c.transpose, m, Int32(d), n, 1, logits.z, n,
                                        c.matrix(0), Int32(c.leading), 1, dE + tokens.lowerBound * d, Int32(d))
                            cblas_sgemm(CblasRowMajor, CblasTrans, e.transpose, n, Int32(d), m, 1, logits.z, n,
                                        e.matrix(0), Int32(e.leading), 1, dC, Int32(d))
                            if let dBias {
                                cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1, logits.z, n, ones, 1, 1,
                                            dBias + columns.lowerBound, 1)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Per-token online statistics across column blocks: (m, d) by the online normalizer,
/// d and Σ z in Double (a vocabulary of 10⁵ columns adds many blocks).
private final class RunningStatistics {
    static let bytesPerToken = 2 * MemoryLayout<Float>.size + 2 * MemoryLayout<Double>.size
    private let max: UnsafeMutableBufferPointer<Float>
    private let sum: UnsafeMutableBufferPointer<Double>
    private let logitSum: UnsafeMutableBufferPointer<Double>
    private let targetLogit: UnsafeMutableBufferPointer<Float>

    init(tokens: Int) {
        max = .allocate(capacity: tokens)
        max.initialize(repeating: -.infinity)
        (sum, logitSum) = (.allocate(capacity: tokens), .allocate(capacity: tokens))
        sum.initialize(repeating: 0)
        logitSum.initialize(repeating: 0)
        targetLogit = .allocate(capacity: tokens)
        targetLogit.initialize(repeating: 0)
    }

    func deallocate() { [max, targetLogit].forEach { $0.deallocate() }; [sum, logitSum].forEach { $0.deallocate() } }

    /// Adds token i's logits `z` of one block; `target`: the target's column in it.
    /// Tokens are independent: rows of a block may be added concurrently.
    func add(_ i: Int, _ z: UnsafePointer<Float>, count: Int, target: Int?) {
        let block = rowMaxAndSum(z, count: count)
        let top = Swift.max(max[i], block.max)
        // Shift by 0 while every logit so far is −inf (e^(−inf − −inf) would be NaN).
        let shift = top == -.infinity ? 0 : top
        let rescale = max[i] == -.infinity ? 0 : Double(Foundation.exp(max[i] - shift))
        sum[i] = sum[i] * rescale + rowExpSum(z, count: count, shift: shift)
        max[i] = top
        logitSum[i] += block.sum
        if let target, (0 ..< count).contains(target) { targetLogit[i] = z[target] }
    }

    func statistics(vocabularySize: Int) -> CrossEntropyStatistics {
        CrossEntropyStatistics(max: Array(max), sum: sum.map(Float.init), logitSum: logitSum.map(Float.init),
                               targetLogit: Array(targetLogit), vocabularySize: vocabularySize)
    }
}

extension Tensor {
    /// Lets `body` accumulate into the view's elements, zeroed first, as dense fp32: in
    /// place for a dense host fp32 view, else in an fp32 accumulator (counted in `arena`)
    /// stored once at the end in the view's dtype.
    func accumulateFloats(counting arena: ScratchArena?, _ body: (UnsafeMutablePointer<Float>) throws -> Void) throws {
        if denseHostFloats == nil { arena?.note(bytes: count * MemoryLayout<Float>.size) }
        try fillFloats { values in
            values.update(repeating: 0, count: count)
            try body(values)
        }
    }
}

/// `Tensor.accumulateFloats` of an optional tensor (nil: `body(nil)`).
private func accumulateFloats(_ tensor: Tensor?, counting arena: ScratchArena,
                              _ body: (UnsafeMutablePointer<Float>?) throws -> Void) throws {
    guard let tensor else { return try body(nil) }
    try tensor.accumulateFloats(counting: arena) { try body($0) }
}
