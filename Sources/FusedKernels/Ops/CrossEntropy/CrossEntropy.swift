import Foundation

/// Linear cross-entropy without the logit matrix ("Cut Your Losses in Large-Vocabulary
/// Language Models", Wijmans et al.): for embeddings E `[N, D]`, a classifier C `[V, D]`,
/// an optional bias `[V]` and targets `[N]`, the logits z = E·Cᵀ + b (soft-capped if
/// asked) are formed tile by tile and reduced on the fly, so memory stays O(N + V·D).
///
/// loss_i = LSE_i − (1 − ε)·z_i[t_i] − (ε/V)·Σ_j z_ij + λ·LSE_i², 0 when t_i = ignoreIndex.
///
/// Checking (`CrossEntropyCall`) comes first; then the op runs on OpenCL
/// (`CrossEntropyOpenCL.swift`, executing a `CrossEntropyPlan`) or on the CPU path (`CrossEntropyCPU.swift`). fp32, fp16
/// and bf16 storage of E, C and the bias, arithmetic in fp32.
extension Engine {
    /// The loss (`[1]`, or `[N]` for reduction `none`, fp32) and, when
    /// `options.returnLogSumExp`, the per-token log-sum-exp `[N]` fp32.
    ///
    /// - Parameters:
    ///   - embeddings: E `[N, D]`, fp32, fp16 or bf16.
    ///   - classifier: C `[V, D]`, E's dtype.
    ///   - targets: `[N]` int32, each in 0..<V or `options.ignoreIndex`.
    ///   - bias: an optional `[V]` bias of E's dtype, added to every row of logits.
    ///   - options: reduction, ignored index, label smoothing, z-loss, soft-cap.
    ///   - preset: the kernels' tiling on OpenCL (ignored on the CPU path).
    /// - Throws: ``FusedKernelsError`` before anything runs for a shape, dtype or option
    ///   out of range, or a target outside [0, V) that is not `ignoreIndex`.
    public func linearCrossEntropy(_ embeddings: Tensor, _ classifier: Tensor, targets: Tensor, bias: Tensor? = nil,
                                   options: CrossEntropyOptions = CrossEntropyOptions(),
                                   preset: KernelPreset = .auto) throws -> LinearCrossEntropyOutput {
        let call = try CrossEntropyCall(embeddings, classifier, targets: targets, bias: bias, shard: nil,
                                        options: options, engine: self)
        let loss = try empty(shape: [options.reduction == .none ? call.n : 1], dtype: .float32)
        let lse = try empty(shape: [call.n], dtype: .float32)
        let arena = ScratchArena(self)
        defer { arena.close() }
        if !options.returnLogSumExp { arena.note(bytes: lse.storage.byteCount) }
        _ = try dispatch("linearCrossEntropy", openCL: { context in
            let plan = crossEntropyPlan(call, loss: options.reduction == .none ? .perToken : .reduced, preset: preset,
                                        on: context)
            try prepare(plan, on: context)
            let stats = try arena.tensor(shape: [call.n, 4], dtype: .float32)
            try encodeCrossEntropyStatistics(call, plan: plan, into: stats, arena: arena, on: context)
            try encodeCrossEntropyLoss(call, plan: plan, statistics: stats, loss: loss, logSumExp: lse, arena: arena,
                                       on: context)
        }, cpu: {
            let stats = try cpuCrossEntropyStatistics(call, arena: arena)
            let (losses, lses) = stats.losses(targets: call.targetValues, options: options)
            try loss.store(stats.reduce(losses, targets: call.targetValues, options: options))
            try lse.store(lses)
        })
        return LinearCrossEntropyOutput(loss: loss, logSumExp: options.returnLogSumExp ? lse : nil)
    }

    /// The per-token statistics of one vocabulary shard (`classifier` and `bias` hold the
    /// columns `shard.range`): merge the shards' with `CrossEntropyStatistics.merging`,
    /// then take the loss and the log-sum-exp from the merged statistics.
    public func linearCrossEntropyStatistics(_ embeddings: Tensor, _ classifier: Tensor, targets: Tensor,
                                             bias: Tensor? = nil, shard: VocabularyShard,
                                             options: CrossEntropyOptions = CrossEntropyOptions(),
                                             preset: KernelPreset = .auto) throws -> CrossEntropyStatistics {
        let call = try CrossEntropyCall(embeddings, classifier, targets: targets, bias: bias, shard: shard,
                                        options: options, engine: self)
        let arena = ScratchArena(self)
        defer { arena.close() }
        return try dispatch("linearCrossEntropyStatistics", openCL: { context in
            let plan = crossEntropyPlan(call, loss: .statisticsOnly, preset: preset, on: context)
            try prepare(plan, on: context)
            let stats = try arena.tensor(shape: [call.n, 4], dtype: .float32)
            try encodeCrossEntropyStatistics(call, plan: plan, into: stats, arena: arena, on: context)
            return CrossEntropyStatistics(interleaved: try stats.array(of: Float.self), vocabularySize: shard.size)
        }, cpu: {
            try cpuCrossEntropyStatistics(call, arena: arena)
        }).0
    }

    /// Gradients with respect to E, C and the bias, given the upstream gradient of the
    /// loss (`[1]`, or `[N]` for reduction `none`; nil: 1) and the forward's log-sum-exp
    /// (nil: recomputed; required with a `shard`, whose backward takes the merged one).
    /// With a shard, `embeddings` gets this shard's share: the shards' sum is dE.
    public func linearCrossEntropyBackward(_ embeddings: Tensor, _ classifier: Tensor, targets: Tensor,
                                           bias: Tensor? = nil, logSumExp: Tensor? = nil, upstream: Tensor? = nil,
                                           shard: VocabularyShard? = nil,
                                           options: CrossEntropyOptions = CrossEntropyOptions(),
                                           preset: KernelPreset = .auto) throws -> LinearCrossEntropyGradients {
        let call = try CrossEntropyCall(embeddings, classifier, targets: targets, bias: bias, shard: shard,
                                        options: options, engine: self)
        let upstreamValues = try call.checkBackward(logSumExp: logSumExp, upstream: upstream, engine: self)
        guard logSumExp != nil || shard == nil else {
            throw FusedKernelsError.invalidArgument(argument: "logSumExp", reason: "a shard's backward needs the merged log-sum-exp")
        }
        let weights = call.tokenWeights(upstream: upstreamValues)
        let gradients = LinearCrossEntropyGradients(
            embeddings: try empty(shape: embeddings.shape, dtype: call.dtype),
            classifier: try empty(shape: classifier.shape, dtype: call.dtype),
            bias: try bias.map { try empty(shape: $0.shape, dtype: call.dtype) })
        let arena = ScratchArena(self)
        defer { arena.close() }
        _ = try dispatch("linearCrossEntropyBackward", openCL: { context in
            // the forward (when the log-sum-exp is not given) and the backward, each kernel
            // built and checked before anything is allocated
            let forward = logSumExp == nil ? crossEntropyPlan(call, loss: .perToken, preset: preset, on: context) : nil
            let backward = crossEntropyBackwardPlan(call, preset: preset, on: context)
            if let forward { try prepare(forward, on: context) }
            try prepare(backward, on: context)
            let lse: Tensor
            if let logSumExp {
                lse = logSumExp
            } else if let forward {
                let stats = try arena.tensor(shape: [call.n, 4], dtype: .float32)
                lse = try arena.tensor(shape: [call.n], dtype: .float32)
                try encodeCrossEntropyStatistics(call, plan: forward, into: stats, arena: arena, on: context)
                try encodeCrossEntropyLoss(call, plan: forward, statistics: stats, loss: nil, logSumExp: lse, arena: arena,
                                           on: context)
            } else {
                throw FusedKernelsError.invalidArgument(argument: "logSumExp", reason: "neither given nor planned")
            }
            try encodeCrossEntropyBackward(call, plan: backward, logSumExp: lse, weights: weights, into: gradients,
                                           arena: arena, preset: preset, on: context)
        }, cpu: {
            let lse = try logSumExp?.array(of: Float.self)
                ?? cpuCrossEntropyStatistics(call, arena: arena).losses(targets: call.targetValues, options: options).logSumExp
            try cpuCrossEntropyBackward(call, logSumExp: lse, weights: weights, into: gradients, arena: arena)
        })
        return gradients
    }
}

/// What ``Engine/linearCrossEntropy(_:_:targets:bias:options:preset:)`` returns.
public struct LinearCrossEntropyOutput {
    /// `[1]` (mean, sum) or `[N]` (none), fp32.
    public let loss: Tensor
    /// `[N]` fp32, when asked for.
    public let logSumExp: Tensor?
}

/// Gradients in the inputs' dtype: dE `[N, D]`, dC `[V, D]` (a shard's rows), dBias `[V]`.
public struct LinearCrossEntropyGradients {
    /// dE `[N, D]`; with a shard, this shard's share of it.
    public let embeddings: Tensor
    /// dC, the classifier's shape.
    public let classifier: Tensor
    /// dBias `[V]` (the shard's columns), when a bias was given.
    public let bias: Tensor?
}
