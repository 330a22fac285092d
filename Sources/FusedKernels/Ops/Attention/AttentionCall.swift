import Foundation

/// A checked attention call: Q `[B, Hq, Lq, D]`, K and V `[B, Hkv, Lk, D]` of one floating
/// dtype with Hkv dividing Hq and D ≤ 256, the options with their masks as views of
/// `[B, Hq, Lq, Lk]`, and the band of keys each row keeps (causal and window). Everything
/// is checked before anything is allocated or run.
struct AttentionCall {
    static let maxHeadSize = 256

    let query: Tensor
    let key: Tensor
    let value: Tensor
    let activation: AttentionActivation
    let options: AttentionOptions
    /// The multiplier of Q·Kᵀ.
    let scale: Float
    /// Added to every score before the sigmoid (0 for softmax).
    let sigmoidBias: Float
    /// Per query head, or nil without ALiBi.
    let slopes: [Float]?
    let additiveMask: Tensor?
    let keepMask: Tensor?
    /// Keys kept for row i lie in [i' − left, i' + right], i' = i + Lk − Lq (both ≤ Lq + Lk).
    let left: Int
    let right: Int

    var batch: Int { query.shape[0] }
    var heads: Int { query.shape[1] }
    var kvHeads: Int { key.shape[1] }
    /// Query heads per key/value head.
    var headsPerKV: Int { heads / kvHeads }
    var lq: Int { query.shape[2] }
    var lk: Int { key.shape[2] }
    var d: Int { query.shape[3] }
    var dtype: DType { query.dtype }
    var isSoftmax: Bool { activation == .softmax }
    /// `[B, Hq, Lq]`: the log-sum-exp's shape.
    var rowShape: [Int] { [batch, heads, lq] }
    /// Row i is aligned with key i + shift (bottom-right).
    var shift: Int { lk - lq }

    init(_ q: Tensor, _ k: Tensor, _ v: Tensor, activation: AttentionActivation, options: AttentionOptions,
         engine: Engine) throws {
        try engine.checkFloatingInput(q, "query")
        try engine.checkOwner(k, "key")
        try engine.checkOwner(v, "value")
        guard q.rank == 4 else {
            throw FusedKernelsError.invalidShape(argument: "query", shape: q.shape, reason: "must be [B, Hq, Lq, D]")
        }
        let (b, hq, d) = (q.shape[0], q.shape[1], q.shape[3])
        guard d <= Self.maxHeadSize else {
            throw FusedKernelsError.invalidShape(argument: "query", shape: q.shape,
                                                 reason: "head size \(d) is above \(Self.maxHeadSize)")
        }
        guard k.rank == 4, k.shape[0] == b, k.shape[3] == d, hq % k.shape[1] == 0 else {
            throw FusedKernelsError.invalidShape(argument: "key", shape: k.shape, reason:
                "must be [\(b), Hkv, Lk, \(d)] with Hkv dividing the \(hq) query heads")
        }
        guard v.shape == k.shape else {
            throw FusedKernelsError.shapeMismatch(argument: "value", expected: k.shape, actual: v.shape)
        }
        for (tensor, name) in [(k, "key"), (v, "value")] where tensor.dtype != q.dtype {
            throw FusedKernelsError.dtypeMismatch(argument: name, expected: q.dtype, actual: tensor.dtype)
        }
        let (lq, lk) = (q.shape[2], k.shape[2])
        let scoreShape = [b, hq, lq, lk]
        scale = options.scale ?? 1 / Float(d).squareRoot()
        try engine.checkFinite(scale, "scale")
        switch activation {
        case .softmax: sigmoidBias = 0
        case let .sigmoid(bias):
            sigmoidBias = bias ?? -Float(log(Double(lk)))
            try engine.checkFinite(sigmoidBias, "sigmoid bias")
        }
        if let window = options.window {
            for (side, name) in [(window.left, "left"), (window.right, "right")] {
                if let side, side < 0 {
                    throw FusedKernelsError.invalidArgument(argument: "window", reason: "\(name) must be ≥ 0, got \(side)")
                }
            }
        }
        if let slopes = options.alibiSlopes {
            try engine.checkOwner(slopes, "alibiSlopes")
            guard slopes.shape == [hq] else {
                throw FusedKernelsError.shapeMismatch(argument: "alibiSlopes", expected: [hq], actual: slopes.shape)
            }
            guard slopes.dtype == .float32 else {
                throw FusedKernelsError.dtypeMismatch(argument: "alibiSlopes", expected: .float32, actual: slopes.dtype)
            }
            let values = try slopes.array(of: Float.self)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw FusedKernelsError.invalidArgument(argument: "alibiSlopes", reason: "element \(bad) is \(values[bad])")
            }
            self.slopes = values
        } else {
            slopes = nil
        }
        additiveMask = try engine.broadcastMask(options.additiveMask, "additiveMask", dtype: .float32, to: scoreShape)
        keepMask = try engine.broadcastMask(options.keepMask, "keepMask", dtype: .bool, to: scoreShape)
        let unbounded = lq + lk
        left = min(options.window?.left ?? unbounded, unbounded)
        right = options.causal ? 0 : min(options.window?.right ?? unbounded, unbounded)
        (query, key, value, self.activation, self.options) = (q, k, v, activation, options)
    }

    /// The keys row i keeps by the causal and window band (possibly empty).
    func keyRange(row i: Int) -> Range<Int> {
        let lo = max(0, i + shift - left), hi = min(lk, i + shift + right + 1)
        return lo ..< max(lo, hi)
    }

    /// The query rows that keep key j by the causal and window band (possibly empty).
    func queryRange(key j: Int) -> Range<Int> {
        let lo = max(0, j - shift - right), hi = min(lq, j - shift + left + 1)
        return lo ..< max(lo, hi)
    }

    /// Checks a backward's inputs: dO like Q, and for softmax the forward's O (like Q) and
    /// log-sum-exp (`[B, Hq, Lq]` fp32).
    func checkBackward(forward: AttentionOutput, gradient: Tensor, engine: Engine) throws {
        for (tensor, name) in [(gradient, "gradient"), (forward.output, "forward.output")] {
            try engine.checkOwner(tensor, name)
            guard tensor.shape == query.shape else {
                throw FusedKernelsError.shapeMismatch(argument: name, expected: query.shape, actual: tensor.shape)
            }
            guard tensor.dtype == dtype else {
                throw FusedKernelsError.dtypeMismatch(argument: name, expected: dtype, actual: tensor.dtype)
            }
        }
        guard isSoftmax else { return }
        guard let lse = forward.logSumExp else {
            throw FusedKernelsError.invalidArgument(argument: "forward.logSumExp",
                                                    reason: "the softmax backward needs the forward's log-sum-exp")
        }
        try engine.checkOwner(lse, "forward.logSumExp")
        guard lse.shape == rowShape else {
            throw FusedKernelsError.shapeMismatch(argument: "forward.logSumExp", expected: rowShape, actual: lse.shape)
        }
        guard lse.dtype == .float32 else {
            throw FusedKernelsError.dtypeMismatch(argument: "forward.logSumExp", expected: .float32, actual: lse.dtype)
        }
    }
}
