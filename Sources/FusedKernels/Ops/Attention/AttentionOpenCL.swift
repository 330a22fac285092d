/// Flash attention on OpenCL (`AttentionKernels`): executes an `AttentionPlan`, binding
/// each launch's arguments by name.
extension Engine {
    func attentionPlan(_ call: AttentionCall, backward: Bool, preset: KernelPreset,
                       on context: OpenCLContext) -> AttentionPlan {
        AttentionPlan(call, backward: backward, device: context.device, gpu: usesGPUShape(preset, on: context.device))
    }

    func encodeAttentionForward(_ call: AttentionCall, output: Tensor, logSumExp: Tensor?, preset: KernelPreset,
                                on context: OpenCLContext) throws {
        let plan = attentionPlan(call, backward: false, preset: preset, on: context)
        try prepare(plan, on: context)
        try launch(plan.forward, try attentionOperands(call) + tensorArguments("o", output) + lseArguments(logSumExp),
                   on: context)
    }

    func encodeAttentionBackward(_ call: AttentionCall, forward: AttentionOutput, gradient: Tensor,
                                 into gradients: AttentionGradients, preset: KernelPreset,
                                 on context: OpenCLContext) throws {
        let plan = attentionPlan(call, backward: true, preset: preset, on: context)
        try prepare(plan, on: context)
        let arena = ScratchArena(self)
        defer { arena.close() }
        let rows = call.batch * call.heads * call.lq
        let delta = plan.delta == nil ? nil : try arena.tensor(shape: [rows], dtype: .float32)
        if let deltaLaunch = plan.delta, let delta {
            try launch(deltaLaunch, try tensorArguments("o", forward.output) + tensorArguments("dout", gradient) + [
                "heads": .int(call.heads), "lq": .int(call.lq), "d": .int(call.d), "rows": .int(rows),
                "delta": .buffer(try delta.deviceBuffer()),
            ], on: context)
        }
        let common = try attentionOperands(call) + tensorArguments("dout", gradient)
            + lseArguments(forward.logSumExp) + ["delta": .buffer(try delta?.deviceBuffer()), "heads": .int(call.heads)]
        try launch(plan.backwardQuery, common + tensorArguments("dq", gradients.query), on: context)
        try launch(plan.backwardKeyValue,
                   common + tensorArguments("dk", gradients.key) + tensorArguments("dv", gradients.value), on: context)
    }

    // MARK: Arguments

    /// Q, K, V, the masks, ALiBi and the scalars every attention kernel takes.
    private func attentionOperands(_ call: AttentionCall) throws -> KernelArguments {
        let slopes = try call.options.alibiSlopes?.deviceBuffer()
        return try tensorArguments("q", call.query) + tensorArguments("k", call.key) + tensorArguments("v", call.value)
            + maskArguments("add", call.additiveMask) + maskArguments("keep", call.keepMask) + [
                "slopes": .buffer(slopes), "has_alibi": .int(slopes == nil ? 0 : 1),
                "lq": .int(call.lq), "lk": .int(call.lk), "d": .int(call.d), "heads_per_kv": .int(call.headsPerKV),
                "scale": .float(call.scale), "sig_bias": .float(call.sigmoidBias),
                "left": .int(call.left), "right": .int(call.right),
            ]
    }

    /// A `[B, H, L, D]` tensor: its buffer, offset and four strides.
    private func tensorArguments(_ name: String, _ x: Tensor) throws -> KernelArguments {
        [name: .buffer(try x.deviceBuffer(name)), name + "_offset": .int64(x.offset), name + "_sb": .int64(x.strides[0]),
         name + "_sh": .int64(x.strides[1]), name + "_sl": .int64(x.strides[2]), name + "_sd": .int64(x.strides[3])]
    }

    /// A mask viewed as `[B, Hq, Lq, Lk]` (nil: absent).
    private func maskArguments(_ name: String, _ mask: Tensor?) throws -> KernelArguments {
        let strides = mask?.strides ?? [0, 0, 0, 0]
        return [name: .buffer(try mask?.deviceBuffer(name)), name + "_offset": .int64(mask?.offset ?? 0),
                name + "_sb": .int64(strides[0]), name + "_sh": .int64(strides[1]), name + "_si": .int64(strides[2]),
                name + "_sj": .int64(strides[3]), "has_" + name: .int(mask == nil ? 0 : 1)]
    }

    /// The log-sum-exp `[B, Hq, Lq]` (nil for sigmoid: never read or written).
    private func lseArguments(_ lse: Tensor?) throws -> KernelArguments {
        let strides = lse?.strides ?? [0, 0, 0]
        return ["lse": .buffer(try lse?.deviceBuffer("logSumExp")), "lse_offset": .int64(lse?.offset ?? 0),
                "lse_sb": .int64(strides[0]), "lse_sh": .int64(strides[1]), "lse_sl": .int64(strides[2])]
    }
}
