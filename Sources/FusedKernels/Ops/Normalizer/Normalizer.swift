import Foundation

/// Per-row statistics of the online normalizer (Milakov & Gimelshein) over
/// z = scale·x + mask: m = max z and d = Σ e^(z − m). Partial statistics of column
/// shards merge associatively (`merging`), the building block for a vocabulary split
/// across devices. A fully masked row is (−inf, 0); a row holding NaN has d = NaN.
public struct NormalizerStatistics: Equatable, Sendable {
    /// m per row: the largest z (−inf for a fully masked row).
    public var max: [Float]
    /// d per row: Σ e^(z − m) (0 for a fully masked row, NaN for a row holding NaN).
    public var sum: [Float]

    /// Statistics from per-row maxima and sums (one entry per row in each).
    public init(max: [Float], sum: [Float]) {
        self.max = max
        self.sum = sum
    }

    /// log Σ e^z = m + log d (−inf for a fully masked row).
    public var logSumExp: [Float] { zip(max, sum).map { m, d in m + Foundation.log(d) } }

    /// The statistics of the concatenated columns of `parts` (same rows, any order).
    ///
    /// - Throws: ``FusedKernelsError/invalidArgument(argument:reason:)`` for no parts,
    ///   ``FusedKernelsError/sizeMismatch(argument:expected:actual:)`` when the parts'
    ///   row counts differ.
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
    /// Per-row (max, sum) of z = scale·x + mask over x's last axis, in one read of x;
    /// one pair per row (x's leading axes flattened), returned to the host.
    public func normalizer(_ x: Tensor, options: SoftmaxOptions = SoftmaxOptions()) throws -> NormalizerStatistics {
        let call = try NormalizerCall(statisticsOf: x, options: options, engine: self)
        let rows = call.softmax.shape.rows
        return try dispatch("normalizer", openCL: { context in
            let plan = normalizerPlan(call, on: context)
            try prepare(plan, on: context)
            let output = try context.makeBuffer(bytes: rows * 2 * MemoryLayout<Float>.size)
            try encodeSoftmaxForward(call.softmax, plan: plan.softmax,
                                     into: KernelRows(buffer: output, layout: RowLayout(rows: rows, cols: 2, offset: 0,
                                                                                        rowStride: 2)), on: context)
            let pairs: [Float] = try wrapCL { try output.readArray(count: rows * 2) }
            return NormalizerStatistics(max: stride(from: 0, to: pairs.count, by: 2).map { pairs[$0] },
                                        sum: stride(from: 1, to: pairs.count, by: 2).map { pairs[$0] })
        }, cpu: {
            var (m, d) = ([Float](repeating: 0, count: rows), [Float](repeating: 0, count: rows))
            try x.withHostFloats { x in
                try withHostMasks(call.softmax) { masks in
                    SoftmaxRowsCPU.statistics(x, max: &m, sum: &d, shape: call.softmax.shape, scale: options.scale,
                                              masks: masks)
                }
            }
            return NormalizerStatistics(max: m, sum: d)
        }).0
    }

    /// Gradient of log-sum-exp: dx = scale · dlse[row] · softmax(z), 0 where masked.
    /// `gradient` is float32 of the log-sum-exp's shape (x's, the last extent 1). On
    /// OpenCL this is one fused softmax pass with the per-row factor applied.
    public func logSumExpBackward(_ x: Tensor, gradient dlse: Tensor,
                                  options: SoftmaxOptions = SoftmaxOptions()) throws -> Tensor {
        let call = try NormalizerCall(logSumExpBackwardOf: x, gradient: dlse, options: options, engine: self)
        let factors = try dlse.array(of: Float.self).map { $0 * options.scale }
        let dx = try empty(shape: x.shape, dtype: x.dtype)
        _ = try dispatch("logSumExpBackward", openCL: { context in
            let plan = normalizerPlan(call, on: context)
            try prepare(plan, on: context)
            let factorBuffer = try factors.withUnsafeBufferPointer { try context.makeBuffer($0) }
            try encodeSoftmaxForward(call.softmax, plan: plan.softmax, into: try outputRows(dx), rowFactor: factorBuffer,
                                     on: context)
        }, cpu: {
            try cpuSoftmaxForward(call.softmax, kind: .softmax, into: dx)
            let shape = call.softmax.shape
            var values = try dx.floatElements()
            for row in 0 ..< shape.rows {
                for col in 0 ..< shape.cols { values[row * shape.cols + col] *= factors[row] }
            }
            try dx.store(values)
        })
        return dx
    }

    func normalizerPlan(_ call: NormalizerCall, on context: OpenCLContext) -> NormalizerPlan {
        NormalizerPlan(call, device: context.device, tuning: tuning,
                       gpu: usesGPUShape(call.softmax.options.preset, on: context.device))
    }
}
