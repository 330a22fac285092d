/// The cross-entropy's work on one row of a logit block (`count` columns), 16 columns at
/// a time; the last, partial vector is padded (−inf where a max or an exp reads it).

/// z ← z + b, then z ← c·tanh(z/c), with tanh(x) = 1 − 2/(e^(2x) + 1): exact at ±inf,
/// an absolute error of about c·2^-24 near 0 (immaterial beside the sgemm's).
func finishLogits(_ z: UnsafeMutablePointer<Float>, count: Int, bias: UnsafePointer<Float>?, softCap: Float?) {
    var j = 0
    while j < count {
        let lanes = min(16, count - j)
        var v = load16(z + j, lanes: lanes, padding: 0)
        if let bias { v += load16(bias + j, lanes: lanes, padding: 0) }
        if let softCap {
            let c = Float16x(repeating: softCap)
            v = c - 2 * c / (vexp(2 * v / c) + 1)
        }
        store16(v, z + j, lanes: lanes)
        j += 16
    }
}

/// (max z, Σ z) of a row.
func rowMaxAndSum(_ z: UnsafePointer<Float>, count: Int) -> (max: Float, sum: Double) {
    var (top, sum) = (Float16x(repeating: -.infinity), Float16x(repeating: 0))
    var j = 0
    while j < count {
        let lanes = min(16, count - j)
        let v = load16(z + j, lanes: lanes, padding: 0)
        sum += v
        top = laneMax(top, lanes == 16 ? v : v.replacing(with: -.infinity, where: tailLanes(lanes)))
        j += 16
    }
    return (top.max(), sum.sumInDouble)
}

/// Σ e^(z − shift) of a row.
func rowExpSum(_ z: UnsafePointer<Float>, count: Int, shift: Float) -> Double {
    let s = Float16x(repeating: shift)
    var sum = Float16x(repeating: 0)
    var j = 0
    while j < count {
        sum += vexp(load16(z + j, lanes: min(16, count - j), padding: -.infinity) - s)
        j += 16
    }
    return sum.sumInDouble
}

/// The row's gradient with respect to its (final) logits, in place:
/// dz_j = w·[s·p_j − ε/V − (1 − ε)·1{j = target}]·cap'(z_j), p_j = e^(z_j − LSE),
/// s = 1 + 2λ·LSE, cap' = 1 − (z/c)². Returns max_j |s·p_j − ε/V|, the gradient filter's
/// measure (0 for a row of weight 0, whose gradient is exactly 0).
struct GradientRow {
    let logSumExp: Float
    let weight: Float
    /// s = 1 + 2λ·LSE.
    let scale: Float
    /// ε/V.
    let uniform: Float
    /// 1 − ε.
    let targetWeight: Float
    /// The target's column in the row, if it is one of the row's.
    let target: Int?
    let softCap: Float?

    func callAsFunction(_ z: UnsafeMutablePointer<Float>, count: Int) -> Float {
        guard weight != 0 else {
            z.update(repeating: 0, count: count)
            return 0
        }
        let (lse, s, u, w) = (Float16x(repeating: logSumExp), Float16x(repeating: scale),
                              Float16x(repeating: uniform), Float16x(repeating: weight))
        var measure = Float16x(repeating: 0)
        var j = 0
        while j < count {
            let lanes = min(16, count - j)
            let v = load16(z + j, lanes: lanes, padding: -.infinity)
            var g = s * vexp(v - lse) - u
            let size = g.replacing(with: -g, where: g .< 0)
            measure = laneMax(measure, lanes == 16 ? size : size.replacing(with: 0, where: tailLanes(lanes)))
            if let target, (j ..< j + 16).contains(target) {
                g[target - j] -= targetWeight
            }
            if let softCap {
                let t = v / Float16x(repeating: softCap)
                g *= 1 - t * t
            }
            store16(w * g, z + j, lanes: lanes)
            j += 16
        }
        return measure.max()
    }
}

// MARK: Vector pieces

/// `lanes` floats from `p`, the rest `padding`.
@inline(__always)
private func load16(_ p: UnsafePointer<Float>, lanes: Int, padding: Float) -> Float16x {
    if lanes == 16 { return load16(p) }
    var v = Float16x(repeating: padding)
    for lane in 0 ..< lanes { v[lane] = p[lane] }
    return v
}

@inline(__always)
private func store16(_ v: Float16x, _ p: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == 16 { return store16(v, p) }
    for lane in 0 ..< lanes { p[lane] = v[lane] }
}

private let laneIndices = Float16x(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/// The padding lanes of a last vector of `lanes` columns.
@inline(__always)
private func tailLanes(_ lanes: Int) -> SIMDMask<SIMD16<Int32>> { laneIndices .>= Float16x(repeating: Float(lanes)) }

/// Lane-wise max in which a NaN never wins (a NaN logit makes the row's sum NaN anyway).
@inline(__always)
private func laneMax(_ a: Float16x, _ b: Float16x) -> Float16x { a.replacing(with: b, where: b .> a) }
