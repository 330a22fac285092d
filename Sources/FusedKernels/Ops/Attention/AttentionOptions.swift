import Foundation

/// The activation between the scores and V: `softmax` over each query row (with the
/// online normalizer, and the row's log-sum-exp as a second output), or `sigmoid`
/// element by element ("Theory, Analysis, and Best Practices for Sigmoid Self-Attention",
/// Ramapuram et al.): P = σ(s + bias), with bias −ln Lk by default (`nil`).
public enum AttentionActivation: Equatable, Sendable, CustomStringConvertible {
    /// P = σ(s + bias) element by element; `nil` bias: −ln Lk. No log-sum-exp output.
    case sigmoid(bias: Float? = nil)
    /// P = softmax(s) over each query row; the forward also returns the log-sum-exp.
    case softmax

    /// `softmax`, `sigmoid`, or `sigmoid(bias: b)` when a bias was given.
    public var description: String {
        switch self {
        case .softmax: return "softmax"
        case let .sigmoid(bias): return bias.map { "sigmoid(bias: \($0))" } ?? "sigmoid"
        }
    }
}

/// A band of keys around each query row: key j is kept for query i when
/// i' − left ≤ j ≤ i' + right, where i' = i + Lk − Lq (rows aligned bottom-right, as
/// FlashAttention 2.1+ does when Lq ≠ Lk). `nil` leaves that side unbounded.
public struct AttentionWindow: Equatable, Sendable {
    /// Keys kept before i' (≥ 0), or nil for all of them.
    public var left: Int?
    /// Keys kept after i' (≥ 0), or nil for all of them.
    public var right: Int?

    /// A band of `left` keys before and `right` keys after i'; a negative side is an error
    /// when the op is called.
    public init(left: Int?, right: Int?) {
        self.left = left
        self.right = right
    }
}

/// Options of `Engine.attention`. The score of query i and key j (head h) is
///
///     s = scale·(Q_i·K_j) − slope_h·|i' − j| + additiveMask[b, h, i, j]
///
/// (i' = i + Lk − Lq), and −∞ where `keepMask` is false, where `causal` removes it
/// (j > i') or outside the `window`. A row whose keys are all removed gives O = 0 and
/// zero gradients for both activations (and a log-sum-exp of −∞ for softmax).
public struct AttentionOptions {
    /// Multiplies Q·Kᵀ; `nil`: 1/√D.
    public var scale: Float?
    /// Keep key j for query i only when j ≤ i + Lk − Lq.
    public var causal: Bool
    /// A band of keys around each row (with `causal`, its right side is 0).
    public var window: AttentionWindow?
    /// ALiBi slopes, one per query head: an fp32 tensor `[Hq]`.
    public var alibiSlopes: Tensor?
    /// fp32, broadcasting to `[B, Hq, Lq, Lk]` (e.g. `[Lq, Lk]` or `[B, 1, 1, Lk]`).
    public var additiveMask: Tensor?
    /// bool, broadcasting to `[B, Hq, Lq, Lk]`: false removes the key.
    public var keepMask: Tensor?

    /// Options with the given values; the defaults are full attention scaled by 1/√D.
    public init(scale: Float? = nil, causal: Bool = false, window: AttentionWindow? = nil, alibiSlopes: Tensor? = nil,
                additiveMask: Tensor? = nil, keepMask: Tensor? = nil) {
        self.scale = scale
        self.causal = causal
        self.window = window
        self.alibiSlopes = alibiSlopes
        self.additiveMask = additiveMask
        self.keepMask = keepMask
    }
}
