import FusedKernels

/// How close a device's output must be to the CPU path's: |a − b| ≤ atol + rtol·|b|,
/// b the CPU path's value. NaN must meet NaN and ±inf the same infinity.
struct Tolerance: Codable, Equatable {
    var atol: Double
    var rtol: Double

    /// Exact agreement (conversions and copies: both sides round the same way).
    static let exact = Tolerance(atol: 0, rtol: 0)

    /// A couple of ulps of the storage type, relative: fp32 1e-5 (arithmetic is fp32
    /// everywhere, so fp32 outputs differ only by summation order and libm), fp16 2⁻¹⁰,
    /// bf16 2⁻⁷ (one rounding of the stored result may land either side).
    static func storage(_ dtype: DType) -> Double {
        switch dtype {
        case .float16: return 0x1p-10
        case .bfloat16: return 0x1p-7
        default: return 1e-5
        }
    }

    /// An output of `dtype` that sums `terms` products, whose largest value (on the CPU
    /// path) is `magnitude`: the storage type's relative tolerance, and an absolute part
    /// of u·√terms·magnitude (near-cancelling sums lose the relative part). u is 2⁻²⁰ in
    /// fp32 (16 times fp32's typical rounding of a sum, whose order differs between
    /// kernels), else the storage type's unit roundoff (fp16 2⁻¹¹, bf16 2⁻⁸): a device
    /// kernel may keep an intermediate (a logit gradient, a probability tile) in the
    /// storage type before the next product, where the CPU path keeps fp32.
    static func reduction(_ dtype: DType, terms: Int, magnitude: Double) -> Tolerance {
        let unit: Double = dtype == .float16 ? 0x1p-11 : dtype == .bfloat16 ? 0x1p-8 : 0x1p-20
        return Tolerance(atol: unit * Double(terms).squareRoot() * magnitude, rtol: storage(dtype))
    }

    /// The largest |a − b| / (atol + rtol·|b|) of `device` against `reference` (≤ 1
    /// passes); infinite for a count mismatch, NaN against a number, an infinity against
    /// anything but itself, or any difference where the allowance is 0.
    func worstRatio(_ device: [Float], _ reference: [Float]) -> Double {
        guard device.count == reference.count else { return .infinity }
        var worst = 0.0
        for (a, b) in zip(device, reference) {
            if a == b || (a.isNaN && b.isNaN) { continue }
            if a.isNaN || b.isNaN || a.isInfinite || b.isInfinite { return .infinity }
            let allowance = atol + rtol * Double(abs(b))
            let difference = Double(abs(a - b))
            worst = max(worst, allowance > 0 ? difference / allowance : .infinity)
        }
        return worst
    }
}

/// One output of a case, read back to the host.
struct ParityOutput {
    /// The output's name in reports: y, lse, dQ, indices…
    let name: String
    let values: Values

    enum Values {
        /// Floating values (any storage dtype, widened) compared within a tolerance.
        case floats([Float], Tolerance)
        /// Integers that must match exactly (top-k columns).
        case indices([Int32])
    }

    static func floats(_ name: String, _ values: [Float], _ tolerance: Tolerance) -> ParityOutput {
        ParityOutput(name: name, values: .floats(values, tolerance))
    }

    static func indices(_ name: String, _ values: [Int32]) -> ParityOutput {
        ParityOutput(name: name, values: .indices(values))
    }
}

/// How a device's outputs compare with the CPU path's: the worst ratio to the tolerance
/// over every output, and which output (with its tolerance) it came from.
struct ParityComparison: Equatable {
    var worstRatio: Double
    var worstOutput: String
    /// The worst output's tolerance (nil for indices).
    var tolerance: Tolerance?

    var passes: Bool { worstRatio <= 1 }

    /// Outputs matched by position; a missing or extra output, or indices that differ
    /// anywhere, give an infinite ratio.
    init(device: [ParityOutput], reference: [ParityOutput]) {
        let each = zip(device, reference).map { mine, theirs -> ParityComparison in
            switch (mine.values, theirs.values) {
            case let (.floats(a, _), .floats(b, tolerance)):
                return ParityComparison(worstRatio: tolerance.worstRatio(a, b), worstOutput: theirs.name, tolerance: tolerance)
            case let (.indices(a), .indices(b)):
                return ParityComparison(worstRatio: a == b ? 0 : .infinity, worstOutput: theirs.name, tolerance: nil)
            default:
                return ParityComparison(worstRatio: .infinity, worstOutput: theirs.name, tolerance: nil)
            }
        }
        guard device.count == reference.count, var worst = each.first else {
            self.init(worstRatio: .infinity, worstOutput: "outputs (\(device.count) of \(reference.count))", tolerance: nil)
            return
        }
        for comparison in each.dropFirst() where comparison.worstRatio > worst.worstRatio { worst = comparison }
        self = worst
    }

    init(worstRatio: Double, worstOutput: String, tolerance: Tolerance?) {
        (self.worstRatio, self.worstOutput, self.tolerance) = (worstRatio, worstOutput, tolerance)
    }
}
