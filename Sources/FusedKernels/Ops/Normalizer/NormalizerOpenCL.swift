/// The normalizer on OpenCL: executes a `NormalizerPlan` through the softmax family's
/// encoding (`SoftmaxOpenCL.swift`), its statistics output or its row factor.
extension Engine {
    func normalizerPlan(_ call: NormalizerCall, on context: OpenCLContext) -> NormalizerPlan {
        NormalizerPlan(call, device: context.device, tuning: tuning,
                       gpu: usesGPUShape(call.softmax.options.preset, on: context.device))
    }

    /// One (m, d) pair of floats per row, read back to the host.
    func encodeNormalizerStatistics(_ call: NormalizerCall, on context: OpenCLContext) throws -> NormalizerStatistics {
        let plan = normalizerPlan(call, on: context)
        try prepare(plan, on: context)
        let rows = call.softmax.shape.rows
        let output = try scratchPool.take(bytes: rows * 2 * MemoryLayout<Float>.size, on: context)
        defer { scratchPool.give(output) }
        try encodeSoftmaxForward(call.softmax, plan: plan.softmax,
                                 into: KernelRows(buffer: output, layout: RowLayout(rows: rows, cols: 2, offset: 0,
                                                                                    rowStride: 2)), on: context)
        let pairs: [Float] = try wrapCL { try output.readArray(count: rows * 2) }
        return NormalizerStatistics(max: stride(from: 0, to: pairs.count, by: 2).map { pairs[$0] },
                                    sum: stride(from: 1, to: pairs.count, by: 2).map { pairs[$0] })
    }

    /// dx = softmax(z) times each row's factor (scale · dlse), in one pass.
    func encodeLogSumExpBackward(_ call: NormalizerCall, factors: [Float], into dx: Tensor,
                                 on context: OpenCLContext) throws {
        let plan = normalizerPlan(call, on: context)
        try prepare(plan, on: context)
        let factorBuffer = try scratchPool.take(bytes: factors.count * MemoryLayout<Float>.size, on: context)
        defer { scratchPool.give(factorBuffer) }
        try factors.withUnsafeBytes { try factorBuffer.write($0) }
        try encodeSoftmaxForward(call.softmax, plan: plan.softmax, into: try outputRows(dx), rowFactor: factorBuffer,
                                 on: context)
    }
}
