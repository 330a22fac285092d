import FusedKernels

/// The online normalizer's (max, sum) pairs: the max is exact up to the scale's rounding;
/// the sum as a probability's denominator.
func normalizerOutputs(_ statistics: NormalizerStatistics, cols: Int) -> [ParityOutput] {
    [.floats("max", statistics.max, Tolerance(atol: 0, rtol: 1e-6)),
     .floats("sum", statistics.sum, Tolerance(atol: 0, rtol: 1e-6 + 0x1p-22 * Double(cols).squareRoot()))]
}

extension ParityCase {
    static var normalizerCases: [ParityCase] {
        var cases: [ParityCase] = []
        for dtype in parityDTypes {
            for shape in [[3, 1], [7, 17], [7, 1000], [3, 4097], longRow] {
                for masking in SoftmaxMasking.allCases where masking != .keepMask || shape[0] > 1 {
                    cases.append(normalizer(masking, dtype, shape))
                }
                if shape[1] > 1 { cases.append(normalizerMerge(dtype, shape)) }
            }
            for shape in [[3, 1], [7, 17], [7, 1000], [3, 4097]] {
                for masking in SoftmaxMasking.allCases { cases.append(logSumExpBackward(masking, dtype, shape)) }
            }
        }
        return cases
    }

    static func normalizer(_ masking: SoftmaxMasking, _ dtype: DType, _ shape: [Int]) -> ParityCase {
        let (rows, cols) = (shape[0], shape[1])
        return ParityCase("normalizer", masking.rawValue, dtype, shape: shape) { engine in
            let x = try engine.parityTensor(parityValues(rows * cols, seed: 4, range: 8), shape, dtype)
            let statistics = try engine.normalizer(x, options: try masking.options(rows, cols, on: engine))
            return normalizerOutputs(statistics, cols: cols)
        }
    }

    /// A device's statistics of the two column halves, merged on the host, against the
    /// CPU path's of the whole row: the exact merge of vocabulary shards.
    static func normalizerMerge(_ dtype: DType, _ shape: [Int]) -> ParityCase {
        let (rows, cols) = (shape[0], shape[1])
        return ParityCase("normalizer-merge", "halves merged vs whole row", dtype, shape: shape) { engine in
            let x = try engine.parityTensor(parityValues(rows * cols, seed: 5, range: 8), shape, dtype)
            guard engine.backend != .cpu else { return normalizerOutputs(try engine.normalizer(x), cols: cols) }
            let half = cols / 2
            let halves = try [0 ..< half, half ..< cols].map { try engine.normalizer(try x.slice(axis: 1, $0)) }
            return normalizerOutputs(try NormalizerStatistics.merging(halves), cols: cols)
        }
    }

    /// dx = scale·dlse·softmax(z), dlse `[rows, 1]` fp32 in [−2, 2).
    static func logSumExpBackward(_ masking: SoftmaxMasking, _ dtype: DType, _ shape: [Int]) -> ParityCase {
        let (rows, cols) = (shape[0], shape[1])
        return ParityCase("logSumExp-backward", masking.rawValue, dtype, shape: shape) { engine in
            let x = try engine.parityTensor(parityValues(rows * cols, seed: 6, range: 8), shape, dtype)
            let dlse = try engine.parityTensor(parityValues(rows, seed: 9), [rows, 1])
            let dx = try engine.logSumExpBackward(x, gradient: dlse, options: try masking.options(rows, cols, on: engine))
            return [.floats("dx", try dx.floats, probabilityTolerance(dtype, cols: cols))]
        }
    }
}
