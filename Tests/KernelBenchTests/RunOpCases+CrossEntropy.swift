import FusedKernels
import Testing
@testable import KernelBench

/// The linear cross-entropy's cases: E [6, 8], C [11, 8] (or a shard of 5 rows), targets
/// with an ignored token.
extension RunOpCase {
    private static let (e, c, bias) = (testValues(48, seed: 30), testValues(88, seed: 31), testValues(11, seed: 32))
    private static let targets: [Int32] = [3, 10, -100, 0, 7, 5]

    static let crossEntropy = RunOpCase(
        name: "cross-entropy, int64 targets, every option",
        arguments: ["cross-entropy", "--reduction", "none", "--label-smoothing", "0.1", "--z-loss", "0.001", "--soft-cap", "20"],
        inputs: [("embeddings", f4(e, [6, 8])), ("classifier", f4(c, [11, 8])),
                 ("targets", NPYArray(targets.map(Int64.init), dtype: .int64, shape: [6])), ("bias", f4(bias, [11]))],
        outputs: ["out", "lse-out", "statistics-out"]
    ) { engine in
        let options = CrossEntropyOptions(reduction: .none, labelSmoothing: 0.1, zLoss: 0.001, softCap: 20, returnLogSumExp: true)
        let (eT, cT, biasT) = (try tensor(e, [6, 8], on: engine), try tensor(c, [11, 8], on: engine), try tensor(bias, [11], on: engine))
        let targetsT = try engine.tensor(targets, shape: [6])
        let loss = try engine.linearCrossEntropy(eT, cT, targets: targetsT, bias: biasT, options: options)
        let s = try engine.linearCrossEntropyStatistics(eT, cT, targets: targetsT, bias: biasT, shard: VocabularyShard(0 ..< 11, of: 11),
                                                        options: options)
        return ["out": try f4(loss.loss), "lse-out": try f4(try #require(loss.logSumExp)), "statistics-out": statistics(s)]
    }

    static let crossEntropyShard = RunOpCase(
        name: "cross-entropy statistics of a shard, bfloat16",
        arguments: ["cross-entropy", "--shard", "3:8/11", "--dtype", "bfloat16"],
        inputs: [("embeddings", f4(e, [6, 8])), ("classifier", f4(Array(c.prefix(40)), [5, 8])),
                 ("targets", NPYArray(targets, dtype: .int32, shape: [6]))],
        outputs: ["statistics-out"]
    ) { engine in
        let s = try engine.linearCrossEntropyStatistics(
            try tensor(e, [6, 8], .bfloat16, on: engine), try tensor(Array(c.prefix(40)), [5, 8], .bfloat16, on: engine),
            targets: try engine.tensor(targets, shape: [6]), shard: VocabularyShard(3 ..< 8, of: 11))
        return ["statistics-out": statistics(s)]
    }

    static let crossEntropyBackward: RunOpCase = {
        let lse = testValues(6, seed: 33).map { $0 + 3 }, upstream: [Float] = [0.75]
        return RunOpCase(
            name: "cross-entropy-backward, exact, ignore index",
            arguments: ["cross-entropy-backward", "--gradient-filter", "off", "--ignore-index", "7"],
            inputs: [("embeddings", f4(e, [6, 8])), ("classifier", f4(c, [11, 8])),
                     ("targets", NPYArray(targets.map { $0 == -100 ? 7 : $0 }, dtype: .int32, shape: [6])),
                     ("bias", f4(bias, [11])), ("lse", f4(lse, [6])), ("upstream", f4(upstream, [1]))],
            outputs: ["de-out", "dc-out", "dbias-out"]
        ) { engine in
            let gradients = try engine.linearCrossEntropyBackward(
                try tensor(e, [6, 8], on: engine), try tensor(c, [11, 8], on: engine),
                targets: try engine.tensor(targets.map { $0 == -100 ? 7 : $0 }, shape: [6]), bias: try tensor(bias, [11], on: engine),
                logSumExp: try tensor(lse, [6], on: engine), upstream: try tensor(upstream, [1], on: engine),
                options: CrossEntropyOptions(ignoreIndex: 7, gradientFilter: nil))
            return ["de-out": try f4(gradients.embeddings), "dc-out": try f4(gradients.classifier),
                    "dbias-out": try f4(try #require(gradients.bias))]
        }
    }()

    /// `[N, 4]` rows (max, sum, logit sum, target logit), as `--statistics-out` writes them.
    private static func statistics(_ s: CrossEntropyStatistics) -> NPYArray {
        f4(s.max.indices.flatMap { [s.max[$0], s.sum[$0], s.logitSum[$0], s.targetLogit[$0]] }, [s.max.count, 4])
    }
}
