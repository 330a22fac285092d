/// The options of the linear cross-entropy (`Engine.linearCrossEntropy`): how the
/// per-token losses are reduced, which targets are ignored, and the loss's variants.
public struct CrossEntropyOptions: Sendable, Equatable {
    /// How the per-token losses are combined.
    public enum Reduction: String, Sendable, CaseIterable {
        /// One loss per token, `[N]`.
        case none
        /// The mean over tokens whose target is not `ignoreIndex` (`[1]`; 0 when all are).
        case mean
        /// The sum over tokens (`[1]`).
        case sum
    }

    /// `mean` by default.
    public var reduction: Reduction
    /// A target with this value adds no loss and gets no gradient, and is not counted by
    /// the mean.
    public var ignoreIndex: Int32
    /// ε in [0, 1]: the target distribution is (1 − ε)·one-hot + ε/V (PyTorch's
    /// `label_smoothing`).
    public var labelSmoothing: Float
    /// λ ≥ 0: adds λ·LSE² per token (PaLM's z-loss), which keeps the normalizer near 1.
    public var zLoss: Float
    /// c > 0: logits become c·tanh(z/c) (Gemma 2's soft-cap), with its exact backward.
    public var softCap: Float?
    /// ε ≥ 0 of the backward's gradient filtering: a (token tile, vocabulary tile) block
    /// whose every gradient entry |(1 + 2λ·LSE)·p − ε_ls/V| is below it, and which holds
    /// no target, is skipped (its gradient is taken as 0). `nil`: exact, nothing skipped.
    /// The default 2⁻¹² is the paper's (below bf16 resolution relative to 1).
    public var gradientFilter: Float?
    /// Also return the per-token log-sum-exp, `[N]` fp32 (the backward can reuse it).
    public var returnLogSumExp: Bool

    /// Options with the given values; the defaults are the plain mean loss with PyTorch's
    /// `ignore_index` −100 and the paper's gradient filter 2⁻¹². Ranges are checked when an
    /// op is called.
    public init(reduction: Reduction = .mean, ignoreIndex: Int32 = -100, labelSmoothing: Float = 0, zLoss: Float = 0,
                softCap: Float? = nil, gradientFilter: Float? = 0x1p-12, returnLogSumExp: Bool = false) {
        self.reduction = reduction
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.zLoss = zLoss
        self.softCap = softCap
        self.gradientFilter = gradientFilter
        self.returnLogSumExp = returnLogSumExp
    }

    /// Throws for an option outside its range (before anything runs).
    func validate() throws {
        guard labelSmoothing.isFinite, (0 ... 1).contains(labelSmoothing) else {
            throw FusedKernelsError.invalidArgument(argument: "labelSmoothing", reason: "must be in [0, 1], got \(labelSmoothing)")
        }
        guard zLoss.isFinite, zLoss >= 0 else {
            throw FusedKernelsError.invalidArgument(argument: "zLoss", reason: "must be finite and ≥ 0, got \(zLoss)")
        }
        if let softCap, !(softCap.isFinite && softCap > 0) {
            throw FusedKernelsError.invalidArgument(argument: "softCap", reason: "must be finite and > 0, got \(softCap)")
        }
        if let gradientFilter, !(gradientFilter.isFinite && gradientFilter >= 0) {
            throw FusedKernelsError.invalidArgument(argument: "gradientFilter",
                                                    reason: "must be finite and ≥ 0, got \(gradientFilter)")
        }
    }
}

/// The columns [range) of a vocabulary of `size` entries that one classifier shard holds
/// (a tensor-parallel head, or a vocabulary split across devices). Targets are indices
/// into the whole vocabulary.
public struct VocabularyShard: Sendable, Equatable {
    /// The vocabulary entries this shard holds: the classifier's (and bias's) rows.
    public let range: Range<Int>
    /// V, the whole vocabulary's size.
    public let size: Int

    /// Columns `range` of a vocabulary of `size`. An op checks that the range lies in
    /// 0..<size and has as many entries as the classifier has rows.
    public init(_ range: Range<Int>, of size: Int) {
        self.range = range
        self.size = size
    }

    /// The whole vocabulary.
    static func whole(_ size: Int) -> VocabularyShard { VocabularyShard(0 ..< size, of: size) }
}
