import Foundation

/// Per-row statistics of the online normalizer (Milakov & Gimelshein) over
/// z = scale·x + mask: m = max z and d = Σ e^(z − m). Partial statistics of column
/// shards merge associatively (`merging`), the building block for a vocabulary split
/// across devices. A fully masked row is (−inf, 0); a row holding NaN has d = NaN.
public struct NormalizerStatistics: Equatable, Sendable {
    public var max: [Float]
    public var sum: [Float]

    public init(max: [Float], sum: [Float]) {
        self.max = max
        self.sum = sum
    }

    /// log Σ e^z = m + log d (−inf for a fully masked row).
    public var logSumExp: [Float] { zip(max, sum).map { m, d in m + Foundation.log(d) } }

    /// The statistics of the concatenated columns of `parts` (same rows, any order).
    public static func merging(_ parts: [NormalizerStatistics]) throws -> NormalizerStatistics {
        guard let first = parts.first else {
            throw FusedKernelsError.invalidArgument(argument: "parts", reason: "needs at least one shard")
        }
        for (index, part) in parts.enumerated() where part.max.count != first.max.count || part.sum.count != part.max.count {
            throw FusedKernelsError.sizeMismatch(argument: "parts[\(index)]", expected: first.max.count,
                                                 actual: part.sum.count == part.max.count ? part.max.count : part.sum.count)
        }
        var merged = first
        for part in parts.dropFirst() {
            for row in merged.max.indices {
                (merged.max[row], merged.sum[row]) = mergePair(merged.max[row], merged.sum[row],
                                                               part.max[row], part.sum[row])
            }
        }
        return merged
    }

    /// (m, d) ⊕ (m', d') = (M, d·e^(m−M) + d'·e^(m'−M)), M = max(m, m'); −inf pairs add 0.
    /// d in Float or Double (the CPU path's column shards).
    static func mergePair<D: BinaryFloatingPoint>(_ m1: Float, _ d1: D, _ m2: Float, _ d2: D) -> (Float, D) {
        let m = Swift.max(m1, m2)
        if m == -.infinity { return (m, d1 + d2) }
        let a = m1 == -.infinity ? 0 : d1 * D(Foundation.exp(m1 - m))
        let b = m2 == -.infinity ? 0 : d2 * D(Foundation.exp(m2 - m))
        return (m, a + b)
    }
}

extension Engine {
    /// Per-row (max, sum) of z = scale·x + mask in one read of `x`.
    public func normalizer<T: StorageElement>(_ x: [T], shape: Shape,
                                              options: SoftmaxOptions = SoftmaxOptions()) throws -> NormalizerStatistics {
        try shape.validate("x")
        try expectCount(x.count, shape.count, "x")
        let strides = try options.validate(for: shape)
        return try dispatch("normalizer", openCL: { context in
            let input = try x.withUnsafeBufferPointer { try context.makeBuffer($0) }
            return try deviceStatistics(input, shape: shape, dtype: T.dtype, options: options, strides: strides,
                                        on: context)
        }, cpu: {
            let floats = x as? [Float] ?? x.map(\.float)
            return cpuStatistics(floats, shape: shape, options: options, strides: strides)
        }).0
    }

    /// Per-row (max, sum) of a device tensor; the statistics come back to the host.
    public func normalizer(_ x: DeviceTensor, options: SoftmaxOptions = SoftmaxOptions()) throws -> NormalizerStatistics {
        try checkOwner(x, "x")
        let strides = try options.validate(for: x.shape)
        return try dispatch("normalizer", openCL: { context in
            try deviceStatistics(x.buffer, shape: x.shape, dtype: x.dtype, options: options, strides: strides,
                                 on: context)
        }, cpu: {
            cpuStatistics(try x.toArray(), shape: x.shape, options: options, strides: strides)
        }).0
    }

    /// Gradient of log-sum-exp: dx = scale · dlse[row] · softmax(z), 0 where masked.
    /// On OpenCL this is one fused softmax pass with the per-row factor applied.
    public func logSumExpBackward<T: StorageElement>(_ x: [T], shape: Shape, gradient dlse: [Float],
                                                     options: SoftmaxOptions = SoftmaxOptions()) throws -> [T] {
        try shape.validate("x")
        try expectCount(x.count, shape.count, "x")
        try expectCount(dlse.count, shape.rows, "gradient")
        let strides = try options.validate(for: shape)
        let factors = dlse.map { $0 * options.scale }
        var dx = [T](repeating: T(0), count: shape.count)
        _ = try x.withUnsafeBufferPointer { x in
            try dx.withUnsafeMutableBufferPointer { dx in
                try dispatch("logSumExpBackward", openCL: { context in
                    let kernel = try softmaxForwardKernel(kind: .softmax, dtype: T.dtype, shape: shape, options: options,
                                                          rowFactor: true, on: context)
                    let input = try context.makeBuffer(x)
                    let factorBuffer = try factors.withUnsafeBufferPointer { try context.makeBuffer($0) }
                    let output = try context.makeBuffer(bytes: dx.count * T.dtype.byteCount)
                    try launchSoftmaxForward(kernel, x: input, y: output, shape: shape, options: options,
                                             strides: strides, rowFactor: factorBuffer, on: context)
                    try output.read(into: dx)
                }, cpu: {
                    computeInFloat([x], dx) { inputs, output in
                        cpuSoftmaxForward(inputs[0], output, shape: shape, kind: .softmax, options: options,
                                          strides: strides)
                        for row in 0 ..< shape.rows {
                            let base = output + row * shape.cols
                            for col in 0 ..< shape.cols { base[col] *= factors[row] }
                        }
                    }
                })
            }
        }
        return dx
    }

    private func deviceStatistics(_ x: CLBuffer, shape: Shape, dtype: DType, options: SoftmaxOptions,
                                  strides: (additiveStride: Int, keepStride: Int),
                                  on context: OpenCLContext) throws -> NormalizerStatistics {
        let kernel = try softmaxForwardKernel(kind: nil, dtype: dtype, shape: shape, options: options, on: context)
        let output = try context.makeBuffer(bytes: shape.rows * 2 * 4)
        try launchSoftmaxForward(kernel, x: x, y: output, shape: shape, options: options, strides: strides,
                                 on: context)
        var pairs = [Float](repeating: 0, count: shape.rows * 2)
        try pairs.withUnsafeMutableBufferPointer { try output.read(into: $0) }
        return NormalizerStatistics(max: stride(from: 0, to: pairs.count, by: 2).map { pairs[$0] },
                                    sum: stride(from: 1, to: pairs.count, by: 2).map { pairs[$0] })
    }

    private func cpuStatistics(_ x: [Float], shape: Shape, options: SoftmaxOptions,
                               strides: (additiveStride: Int, keepStride: Int)) -> NormalizerStatistics {
        var m = [Float](repeating: 0, count: shape.rows)
        var d = [Float](repeating: 0, count: shape.rows)
        x.withUnsafeBufferPointer { x in
            options.additiveMask.withOptionalPointer { additive in
                options.keepMask.withOptionalPointer { keep in
                    let masks = SoftmaxReference.Masks(additive: additive, additiveStride: strides.additiveStride,
                                                       keep: keep, keepStride: strides.keepStride)
                    SoftmaxReference.statistics(x.baseAddress!, max: &m, sum: &d, shape: shape,
                                                scale: options.scale, masks: masks)
                }
            }
        }
        return NormalizerStatistics(max: m, sum: d)
    }
}
