import Foundation

/// Flash attention with a sigmoid or softmax activation: O = act(S)·V for the scores S of
/// `AttentionOptions`, computed tile by tile so that no Lq×Lk matrix exists anywhere
/// (memory O(B·H·L·D)). Q is `[B, Hq, Lq, D]`, K and V `[B, Hkv, Lk, D]` with Hq a
/// multiple of Hkv: query head h reads key/value head h / (Hq / Hkv) (grouped-query and
/// multi-query attention without copies). Storage fp32, fp16 or bf16; arithmetic fp32.
///
/// Checking (`AttentionCall`) comes first; then the op runs on OpenCL
/// (`AttentionOpenCL.swift`, executing an `AttentionPlan`) or on the CPU path (`AttentionCPU.swift`).
extension Engine {
    /// O `[B, Hq, Lq, D]` in Q's dtype and, for softmax, the log-sum-exp of each row
    /// `[B, Hq, Lq]` fp32 (the backward's input).
    ///
    /// - Parameters:
    ///   - query: Q `[B, Hq, Lq, D]`, D ≤ 256, fp32, fp16 or bf16.
    ///   - key: K `[B, Hkv, Lk, D]` with Hkv dividing Hq, Q's dtype.
    ///   - value: V, K's shape and Q's dtype.
    ///   - activation: `.softmax` or `.sigmoid(bias:)`.
    ///   - options: scale, causal, window, ALiBi slopes and masks.
    ///   - preset: the kernels' tiling on OpenCL (ignored on the CPU path).
    /// - Throws: ``FusedKernelsError`` before anything runs for shapes or dtypes that do
    ///   not fit, a head size above 256, a non-finite scale or sigmoid bias, a negative
    ///   window side, or masks and slopes of the wrong dtype or shape.
    public func attention(_ query: Tensor, _ key: Tensor, _ value: Tensor, activation: AttentionActivation,
                          options: AttentionOptions = AttentionOptions(),
                          preset: KernelPreset = .auto) throws -> AttentionOutput {
        let call = try AttentionCall(query, key, value, activation: activation, options: options, engine: self)
        let output = try empty(shape: query.shape, dtype: query.dtype)
        let lse = call.isSoftmax ? try empty(shape: call.rowShape, dtype: .float32) : nil
        _ = try dispatch("attention", openCL: { context in
            try encodeAttentionForward(call, output: output, logSumExp: lse, preset: preset, on: context)
        }, cpu: {
            try cpuAttentionForward(call, output: output, logSumExp: lse)
        })
        return AttentionOutput(output: output, logSumExp: lse)
    }

    /// dQ, dK and dV (in Q's dtype) from the upstream gradient dO `[B, Hq, Lq, D]` and the
    /// forward's outputs (softmax needs O and the log-sum-exp; sigmoid neither). With
    /// grouped heads, dK and dV sum their group's query heads in head order.
    public func attentionBackward(_ query: Tensor, _ key: Tensor, _ value: Tensor, forward: AttentionOutput,
                                  gradient: Tensor, activation: AttentionActivation,
                                  options: AttentionOptions = AttentionOptions(),
                                  preset: KernelPreset = .auto) throws -> AttentionGradients {
        let call = try AttentionCall(query, key, value, activation: activation, options: options, engine: self)
        try call.checkBackward(forward: forward, gradient: gradient, engine: self)
        let gradients = AttentionGradients(query: try empty(shape: query.shape, dtype: call.dtype),
                                           key: try empty(shape: key.shape, dtype: call.dtype),
                                           value: try empty(shape: value.shape, dtype: call.dtype))
        _ = try dispatch("attentionBackward", openCL: { context in
            try encodeAttentionBackward(call, forward: forward, gradient: gradient, into: gradients, preset: preset,
                                        on: context)
        }, cpu: {
            try cpuAttentionBackward(call, forward: forward, gradient: gradient, into: gradients)
        })
        return gradients
    }
}

/// What ``Engine/attention(_:_:_:activation:options:preset:)`` returns, and what
/// ``Engine/attentionBackward(_:_:_:forward:gradient:activation:options:preset:)`` takes.
public struct AttentionOutput {
    /// O `[B, Hq, Lq, D]`, Q's dtype.
    public let output: Tensor
    /// `[B, Hq, Lq]` fp32 for softmax (−∞ for a fully masked row); nil for sigmoid.
    public let logSumExp: Tensor?

    /// A forward's outputs, e.g. ones kept from an earlier step.
    public init(output: Tensor, logSumExp: Tensor?) {
        self.output = output
        self.logSumExp = logSumExp
    }
}

/// Gradients in Q's dtype, shaped like Q, K and V.
public struct AttentionGradients {
    /// dQ `[B, Hq, Lq, D]`.
    public let query: Tensor
    /// dK `[B, Hkv, Lk, D]` (summed over each key/value head's query heads).
    public let key: Tensor
    /// dV `[B, Hkv, Lk, D]` (summed likewise).
    public let value: Tensor
}
