import Foundation

/// Per-token statistics of the logits over some columns of the vocabulary: the online
/// normalizer's (max, Σ e^(z − max)), the sum of the logits (for label smoothing) and the
/// target's logit (0 when the target is not among the columns). Statistics of disjoint
/// column ranges merge exactly (`merging`); the loss follows from the merged ones.
public struct CrossEntropyStatistics: Equatable, Sendable {
    /// Per token, the largest logit over the columns.
    public var max: [Float]
    /// Per token, Σ e^(z − max) over the columns.
    public var sum: [Float]
    /// Per token, Σ z over the columns.
    public var logitSum: [Float]
    /// Per token, z at its target (0 when the target is not among the columns).
    public var targetLogit: [Float]
    /// The whole vocabulary's size (label smoothing's V).
    public var vocabularySize: Int

    /// Statistics from their parts (one entry per token in each array).
    public init(max: [Float], sum: [Float], logitSum: [Float], targetLogit: [Float], vocabularySize: Int) {
        (self.max, self.sum, self.logitSum, self.targetLogit) = (max, sum, logitSum, targetLogit)
        self.vocabularySize = vocabularySize
    }

    /// From the kernels' `[N, 4]` rows (max, sum, logit sum, target logit).
    init(interleaved values: [Float], vocabularySize: Int) {
        let rows = values.count / 4
        self.init(max: (0 ..< rows).map { values[4 * $0] }, sum: (0 ..< rows).map { values[4 * $0 + 1] },
                  logitSum: (0 ..< rows).map { values[4 * $0 + 2] }, targetLogit: (0 ..< rows).map { values[4 * $0 + 3] },
                  vocabularySize: vocabularySize)
    }

    /// log Σ_j e^z_ij per token.
    public var logSumExp: [Float] { zip(max, sum).map { m, d in m + Foundation.log(d) } }

    /// The statistics of the union of `parts`' columns (same tokens, disjoint shards).
    ///
    /// - Throws: ``FusedKernelsError/invalidArgument(argument:reason:)`` for no parts or
    ///   parts of different vocabulary sizes,
    ///   ``FusedKernelsError/sizeMismatch(argument:expected:actual:)`` for different token
    ///   counts.
    public static func merging(_ parts: [CrossEntropyStatistics]) throws -> CrossEntropyStatistics {
        guard let first = parts.first else {
            throw FusedKernelsError.invalidArgument(argument: "parts", reason: "needs at least one shard")
        }
        for (index, part) in parts.enumerated() {
            let counts = [part.max.count, part.sum.count, part.logitSum.count, part.targetLogit.count]
            guard counts.allSatisfy({ $0 == first.max.count }) else {
                throw FusedKernelsError.sizeMismatch(argument: "parts[\(index)]", expected: first.max.count,
                                                     actual: counts.first { $0 != first.max.count }!)
            }
            guard part.vocabularySize == first.vocabularySize else {
                throw FusedKernelsError.invalidArgument(argument: "parts[\(index)]", reason:
                    "vocabulary of \(part.vocabularySize), the first shard's is \(first.vocabularySize)")
            }
        }
        var merged = first
        for part in parts.dropFirst() {
            for i in merged.max.indices {
                (merged.max[i], merged.sum[i]) = NormalizerStatistics.mergePair(merged.max[i], merged.sum[i],
                                                                               part.max[i], part.sum[i])
                merged.logitSum[i] += part.logitSum[i]
                merged.targetLogit[i] += part.targetLogit[i]
            }
        }
        return merged
    }

    /// Per-token losses (0 for ignored targets) and log-sum-exps.
    public func losses(targets: [Int32], options: CrossEntropyOptions) -> (loss: [Float], logSumExp: [Float]) {
        let lse = logSumExp
        let (smoothing, size) = (options.labelSmoothing, Float(vocabularySize))
        let loss = targets.indices.map { i -> Float in
            guard targets[i] != options.ignoreIndex else { return 0 }
            return lse[i] - (1 - smoothing) * targetLogit[i] - smoothing * logitSum[i] / size
                + options.zLoss * lse[i] * lse[i]
        }
        return (loss, lse)
    }

    /// The reduced loss: `[N]` for `none`, else one value (the sum in Double, and the mean
    /// over counted tokens; 0 when every target is ignored).
    public func reduce(_ losses: [Float], targets: [Int32], options: CrossEntropyOptions) -> [Float] {
        switch options.reduction {
        case .none: return losses
        case .sum: return [Float(losses.reduce(0.0) { $0 + Double($1) })]
        case .mean:
            let counted = targets.lazy.filter { $0 != options.ignoreIndex }.count
            return [counted == 0 ? 0 : Float(losses.reduce(0.0) { $0 + Double($1) } / Double(counted))]
        }
    }
}
