/// The normalizer on the CPU path: the softmax rows' statistics (`SoftmaxRowsCPU`), and
/// the log-sum-exp backward as softmax times each row's factor.
extension Engine {
    func cpuNormalizerStatistics(_ call: NormalizerCall) throws -> NormalizerStatistics {
        let shape = call.softmax.shape
        var (m, d) = ([Float](repeating: 0, count: shape.rows), [Float](repeating: 0, count: shape.rows))
        try call.softmax.x.withHostFloats { x in
            try withHostMasks(call.softmax) { masks in
                SoftmaxRowsCPU.statistics(x, max: &m, sum: &d, shape: shape, scale: call.softmax.options.scale, masks: masks)
            }
        }
        return NormalizerStatistics(max: m, sum: d)
    }

    func cpuLogSumExpBackward(_ call: NormalizerCall, factors: [Float], into dx: Tensor) throws {
        try cpuSoftmaxForward(call.softmax, kind: .softmax, into: dx)
        let shape = call.softmax.shape
        var values = try dx.floatElements()
        for row in 0 ..< shape.rows {
            for col in 0 ..< shape.cols { values[row * shape.cols + col] *= factors[row] }
        }
        try dx.store(values)
    }
}
