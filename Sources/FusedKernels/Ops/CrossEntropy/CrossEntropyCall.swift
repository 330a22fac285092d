/// A checked linear cross-entropy: E `[N, D]`, a classifier (shard) C `[Vs, D]` and an
/// optional bias `[Vs]` of one floating dtype, int32 targets `[N]` whose values were read
/// and checked against the whole vocabulary, the options, and for a backward the saved
/// log-sum-exp and the upstream gradient. Everything is checked before anything runs.
struct CrossEntropyCall {
    let embeddings: Tensor
    let classifier: Tensor
    let bias: Tensor?
    let targets: Tensor
    let targetValues: [Int32]
    let shard: VocabularyShard
    let options: CrossEntropyOptions
    /// Tokens whose target is not ignored: the mean's divisor.
    let counted: Int

    var n: Int { embeddings.shape[0] }
    var d: Int { embeddings.shape[1] }
    /// Columns of this shard.
    var columns: Int { classifier.shape[0] }
    var dtype: DType { embeddings.dtype }

    init(_ e: Tensor, _ c: Tensor, targets: Tensor, bias: Tensor?, shard: VocabularyShard?,
         options: CrossEntropyOptions, engine: Engine) throws {
        try engine.checkFloatingInput(e, "embeddings")
        try engine.checkOwner(c, "classifier")
        try engine.checkOwner(targets, "targets")
        guard e.rank == 2 else {
            throw FusedKernelsError.invalidShape(argument: "embeddings", shape: e.shape, reason: "must be [N, D]")
        }
        guard c.rank == 2, c.shape[1] == e.shape[1] else {
            throw FusedKernelsError.shapeMismatch(argument: "classifier", expected: [c.shape[0], e.shape[1]], actual: c.shape)
        }
        guard c.dtype == e.dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: "classifier", expected: e.dtype, actual: c.dtype)
        }
        guard targets.shape == [e.shape[0]] else {
            throw FusedKernelsError.shapeMismatch(argument: "targets", expected: [e.shape[0]], actual: targets.shape)
        }
        guard targets.dtype == .int32 else {
            throw FusedKernelsError.dtypeMismatch(argument: "targets", expected: .int32, actual: targets.dtype)
        }
        if let bias {
            try engine.checkOwner(bias, "bias")
            guard bias.shape == [c.shape[0]] else {
                throw FusedKernelsError.shapeMismatch(argument: "bias", expected: [c.shape[0]], actual: bias.shape)
            }
            guard bias.dtype == e.dtype else {
                throw FusedKernelsError.dtypeMismatch(argument: "bias", expected: e.dtype, actual: bias.dtype)
            }
        }
        try options.validate()
        let shard = shard ?? .whole(c.shape[0])
        guard shard.range.lowerBound >= 0, shard.range.upperBound <= shard.size, shard.range.count == c.shape[0] else {
            throw FusedKernelsError.invalidArgument(argument: "shard", reason:
                "columns \(shard.range) of a vocabulary of \(shard.size) must lie inside it and match the classifier's \(c.shape[0]) rows")
        }
        let values = try targets.array(of: Int32.self)
        if let bad = values.firstIndex(where: { $0 != options.ignoreIndex && !(0 ..< Int32(clamping: shard.size)).contains($0) }) {
            throw FusedKernelsError.invalidArgument(argument: "targets", reason:
                "position \(bad) holds \(values[bad]), outside [0, \(shard.size)) and not ignoreIndex (\(options.ignoreIndex))")
        }
        (embeddings, classifier, self.bias, self.targets, targetValues) = (e, c, bias, targets, values)
        (self.shard, self.options) = (shard, options)
        counted = values.lazy.filter { $0 != options.ignoreIndex }.count
    }

    /// The per-token weight of the upstream gradient `g` (`[1]`, or `[N]` for reduction
    /// `none`): g/count for the mean, g for the sum, g[i] per token; 0 for ignored tokens.
    func tokenWeights(upstream: [Float]) -> [Float] {
        (0 ..< n).map { i in
            guard targetValues[i] != options.ignoreIndex else { return 0 }
            switch options.reduction {
            case .none: return upstream[i]
            case .sum: return upstream[0]
            case .mean: return upstream[0] / Float(counted)
            }
        }
    }

    /// Checks a saved log-sum-exp (`[N]` fp32) and an upstream gradient (`[1]` fp32, `[N]`
    /// for reduction `none`), and reads the latter (nil: 1).
    func checkBackward(logSumExp: Tensor?, upstream: Tensor?, engine: Engine) throws -> [Float] {
        if let logSumExp {
            try engine.checkOwner(logSumExp, "logSumExp")
            guard logSumExp.shape == [n] else {
                throw FusedKernelsError.shapeMismatch(argument: "logSumExp", expected: [n], actual: logSumExp.shape)
            }
            guard logSumExp.dtype == .float32 else {
                throw FusedKernelsError.dtypeMismatch(argument: "logSumExp", expected: .float32, actual: logSumExp.dtype)
            }
        }
        let expected = options.reduction == .none ? [n] : [1]
        guard let upstream else { return [Float](repeating: 1, count: expected[0]) }
        try engine.checkOwner(upstream, "upstream")
        guard upstream.shape == expected else {
            throw FusedKernelsError.shapeMismatch(argument: "upstream", expected: expected, actual: upstream.shape)
        }
        guard upstream.dtype == .float32 else {
            throw FusedKernelsError.dtypeMismatch(argument: "upstream", expected: .float32, actual: upstream.dtype)
        }
        let values = try upstream.array(of: Float.self)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw FusedKernelsError.invalidArgument(argument: "upstream", reason: "element \(bad) is \(values[bad])")
        }
        return values
    }
}
