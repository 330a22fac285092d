/// Flash attention on OpenCL (`Kernels/attention/`), made of the matmul tiles
/// (`lib/gemm.h`):
/// - forward: `attn_forward`, one group per (query tile, query head, batch);
/// - backward: `attn_delta` (softmax: Δ = rowsum(dO ∘ O)), then `attn_backward_query`
///   (dQ, one group per query tile) and `attn_backward_kv` (dK and dV, one group per key
///   tile of a key/value head, summing its query heads in order): every output tile
///   has one owner.
extension Engine {
    func encodeAttentionForward(_ call: AttentionCall, output: Tensor, logSumExp: Tensor?, preset: KernelPreset,
                                on context: OpenCLContext) throws {
        let p = try attentionTiles(call, preset: preset, on: context)
        try launch(attentionSpec("forward", "attn_forward", call, p, on: context), attentionGrid(rows: call.lq, heads: call.heads,
                                                                                     call, p),
                   try attentionOperands(call) + tensorArguments("o", output) + lseArguments(logSumExp), on: context)
    }

    func encodeAttentionBackward(_ call: AttentionCall, forward: AttentionOutput, gradient: Tensor,
                                 into gradients: AttentionGradients, preset: KernelPreset,
                                 on context: OpenCLContext) throws {
        let p = try attentionTiles(call, preset: preset, on: context)
        let arena = ScratchArena(self)
        defer { arena.close() }
        let rows = call.batch * call.heads * call.lq
        let delta = call.isSoftmax ? try arena.tensor(shape: [rows], dtype: .float32) : nil
        if let delta {
            try launch(attentionSpec("backward", "attn_delta", call, p, on: context),
                       .linear(rows, groupSize: attentionRowGroup(context)),
                       try tensorArguments("o", forward.output) + tensorArguments("dout", gradient) + [
                           "heads": .int(call.heads), "lq": .int(call.lq), "d": .int(call.d), "rows": .int(rows),
                           "delta": .buffer(try delta.deviceBuffer()),
                       ], on: context)
        }
        let common = try attentionOperands(call) + tensorArguments("dout", gradient)
            + lseArguments(forward.logSumExp) + ["delta": .buffer(try delta?.deviceBuffer()), "heads": .int(call.heads)]
        try launch(attentionSpec("backward", "attn_backward_query", call, p, on: context),
                   attentionGrid(rows: call.lq, heads: call.heads, call, p),
                   common + tensorArguments("dq", gradients.query), on: context)
        try launch(attentionSpec("backward", "attn_backward_kv", call, p, on: context),
                   attentionGrid(rows: call.lk, heads: call.kvHeads, call, p),
                   common + tensorArguments("dk", gradients.key) + tensorArguments("dv", gradients.value), on: context)
    }

    // MARK: Plan and arguments

    /// The preset's tiles: CPU devices one item with a 96 × 128 score tile (12 × 32
    /// micro-tiles of 16-wide vectors, the matmul preset's; 96 rows ran B1 H8 L2048 D64 in
    /// 56–61 ms against 61–66 with 48, interleaved), GPU devices 16 × 16 items on a
    /// 32 × 32 tile in `__local` memory. The head-dimension block is D padded (CPU: one
    /// block) or 16 (GPU); checked against the device.
    func attentionTiles(_ call: AttentionCall, preset: KernelPreset, on context: OpenCLContext) throws
        -> MatmulParameters {
        let gpu = usesGPUShape(preset, on: context.device)
        var p = gpu ? MatmulParameters(mwg: 32, nwg: 32, kwg: 16, mdimc: 16, ndimc: 16, vwn: 2, mr: 2, nr: 2)
            : MatmulParameters(mwg: 96, nwg: 128, kwg: 0, mdimc: 1, ndimc: 1, vwn: 16, mr: 12, nr: 32)
        if !gpu { p.kwg = attentionPaddedHead(call, p) }
        let dp = attentionPaddedHead(call, p)
        let kvTile = max(p.kwg * p.nwg, (gpu ? p.kwg : p.nwg) * dp)
        let localBytes = gpu ? (p.kwg * p.mwg + kvTile + 2 * p.mwg * p.nwg + 2 * p.nwg + p.mwg) * 4 : 0
        guard p.workGroupSize <= context.device.maxWorkGroupSize, UInt64(localBytes) <= context.device.localMemoryBytes else {
            throw FusedKernelsError.invalidArgument(argument: "preset", reason:
                "attention tiles \(p) need \(p.workGroupSize) items and \(localBytes) B of local memory; "
                    + "\(context.device.name) has \(context.device.maxWorkGroupSize) and \(context.device.localMemoryBytes)")
        }
        return p
    }

    /// D rounded up to whole micro-tile columns (and 16-wide vectors).
    private func attentionPaddedHead(_ call: AttentionCall, _ p: MatmulParameters) -> Int {
        let unit = max(16, p.nr * p.ndimc)
        return (call.d + unit - 1) / unit * unit
    }

    /// `attn_delta`'s work-group: one item per row either way, 64 to a group on GPUs.
    private func attentionRowGroup(_ context: OpenCLContext) -> Int { context.device.isCPU ? 1 : 64 }

    /// The three backward kernels share one set of defines, so one program build.
    private func attentionSpec(_ file: String, _ entry: String, _ call: AttentionCall, _ p: MatmulParameters,
                               on context: OpenCLContext) -> KernelSpec {
        KernelSpec(file: "attention/\(file).cl", entry: entry, defines: p.defines.merging([
            "DTYPE": call.dtype.kernelCode, "ATT_DP": attentionPaddedHead(call, p), "ATT_SOFTMAX": call.isSoftmax ? 1 : 0,
            "WG_SIZE": attentionRowGroup(context),
        ]) { $1 })
    }

    /// One group per tile of `rows` rows, head and batch.
    private func attentionGrid(rows: Int, heads: Int, _ call: AttentionCall, _ p: MatmulParameters) -> Grid {
        Grid(global: [(rows + p.mwg - 1) / p.mwg * p.ndimc, heads * p.mdimc, call.batch], local: [p.ndimc, p.mdimc, 1])
    }

    /// Q, K, V, the masks, ALiBi and the scalars every attention kernel takes.
    private func attentionOperands(_ call: AttentionCall) throws -> KernelArguments {
        let slopes = try call.options.alibiSlopes?.deviceBuffer()
        return try tensorArguments("q", call.query) + tensorArguments("k", call.key) + tensorArguments("v", call.value)
            + maskArguments("add", call.additiveMask) + maskArguments("keep", call.keepMask) + [
                "slopes": .buffer(slopes), "has_alibi": .int(slopes == nil ? 0 : 1),
                "lq": .int(call.lq), "lk": .int(call.lk), "d": .int(call.d), "heads_per_kv": .int(call.group),
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
