/// Cut cross-entropy on OpenCL (`Kernels/cce/`), built on the matmul tiles of the
/// preset (`MatmulParameters`):
/// - forward: `cce_forward` over (vocabulary split × token tile) groups, then
///   `cce_statistics` merges the splits per token and adds the target logit; `cce_loss`
///   and `cce_reduce` turn the statistics into the loss;
/// - backward, per vocabulary chunk: `cce_dlogits` writes the chunk's logit gradient dZ
///   (with the filter's block mask), matmul multiplies it out (dE += dZ·C_chunk,
///   dC_chunk = dZᵀ·E, skipping dead blocks), `cce_bias_grad` sums dBias.
extension Engine {
    /// Device bytes the backward's dZ chunk may take (the chunk is at least one tile wide).
    static let crossEntropyChunkBytes = 32 << 20
    /// Partial statistics per token and split stay under this many bytes.
    static let crossEntropyPartialBytes = 512 << 10
    static let crossEntropyGroupsPerUnit = 32

    func encodeCrossEntropyStatistics(_ call: CrossEntropyCall, into stats: Tensor, arena: ScratchArena,
                                      preset: KernelPreset, on context: OpenCLContext) throws {
        let p = try crossEntropyTiles(call, preset: preset, on: context)
        let tokenTiles = (call.n + p.mwg - 1) / p.mwg
        let tiles = (call.columns + p.nwg - 1) / p.nwg
        // enough groups to balance the compute units (N 1024, D 1024, V 65536 on 2 cores:
        // 0.89x the same run's matmul with 4 groups per unit, 0.95x with 32), within the
        // partials' budget
        let wanted = (Self.crossEntropyGroupsPerUnit * context.device.computeUnits + tokenTiles - 1) / tokenTiles
        let splits = max(1, min(tiles, wanted, Self.crossEntropyPartialBytes / (12 * call.n)))
        let partials = try arena.tensor(shape: [call.n, splits, 3], dtype: .float32)
        let operands = try crossEntropyOperands(call)
        try launch(crossEntropySpec("forward", "cce_forward", call, p), Grid(
            global: [splits * p.ndimc, tokenTiles * p.mdimc], local: [p.ndimc, p.mdimc]), operands + [
                "n": .int(call.n), "vocab": .int(call.columns), "d": .int(call.d), "cap": .float(call.options.softCap ?? 0),
                "splits": .int(splits), "partials": .buffer(try partials.deviceBuffer()),
            ], on: context)
        // one item per token: groups of 64 on GPUs, single items on CPU devices
        let groupSize = context.device.isCPU ? 1 : 64
        try launch(crossEntropySpec("forward", "cce_statistics", call, p, groupSize: groupSize),
                   .linear(call.n, groupSize: groupSize), operands + targetArguments(call) + [
                       "n": .int(call.n), "vocab": .int(call.columns), "d": .int(call.d),
                       "cap": .float(call.options.softCap ?? 0), "shard_lo": .int(call.shard.range.lowerBound),
                       "splits": .int(splits), "partials": .buffer(try partials.deviceBuffer()),
                       "stats": .buffer(try stats.deviceBuffer()),
                   ], on: context)
    }

    /// The loss (`nil`: only the log-sum-exp) from `cce_forward`'s statistics.
    func encodeCrossEntropyLoss(_ call: CrossEntropyCall, statistics: Tensor, loss: Tensor?, logSumExp: Tensor,
                                arena: ScratchArena, on context: OpenCLContext) throws {
        let options = call.options
        let losses = options.reduction == .none && loss != nil ? loss! : try arena.tensor(shape: [call.n], dtype: .float32)
        let groupSize = context.device.isCPU ? 1 : 64
        let spec = { (entry: String) in
            KernelSpec(file: "cce/loss.cl", entry: entry, defines: ["WG_SIZE": groupSize])
        }
        try launch(spec("cce_loss"), .linear(call.n, groupSize: groupSize), targetArguments(call) + [
            "stats": .buffer(try statistics.deviceBuffer()), "n": .int(call.n), "ignore_index": .int32(options.ignoreIndex),
            "smoothing": .float(options.labelSmoothing),
            "smooth_per_column": .float(options.labelSmoothing / Float(call.shard.size)), "zloss": .float(options.zLoss),
            "losses": .buffer(try losses.deviceBuffer()), "lse": .buffer(try logSumExp.deviceBuffer()),
        ], on: context)
        guard let loss, options.reduction != .none else { return }
        let scale: Float = options.reduction == .sum ? 1 : call.counted == 0 ? 0 : 1 / Float(call.counted)
        try launch(spec("cce_reduce"), .linear(groupSize, groupSize: groupSize), [
            "losses": .buffer(try losses.deviceBuffer()), "n": .int(call.n), "scale": .float(scale),
            "out": .buffer(try loss.deviceBuffer()),
        ], on: context)
    }

    /// `weights`: the per-token factor of the upstream gradient (0 for ignored tokens).
    /// The kernels see them divided by the largest |w|, which the products and the bias
    /// sums multiply back in (their α): dZ then stays near 1 instead of g/N, so an fp16
    /// dZ keeps its precision (g/N would be fp16-subnormal for N in the thousands).
    func encodeCrossEntropyBackward(_ call: CrossEntropyCall, logSumExp: Tensor, weights: [Float],
                                    into gradients: LinearCrossEntropyGradients, arena: ScratchArena,
                                    preset: KernelPreset, on context: OpenCLContext) throws {
        let p = try crossEntropyTiles(call, preset: preset, on: context)
        let scale = weights.lazy.map(abs).max().flatMap { $0 > 0 ? $0 : nil } ?? 1
        let weightTensor = try arena.tensor(shape: [call.n], dtype: .float32)
        try weightTensor.store(weights.map { $0 / scale })
        let options = call.options
        let tokenTiles = (call.n + p.mwg - 1) / p.mwg
        let chunk = min((call.columns + p.nwg - 1) / p.nwg * p.nwg,
                        max(p.nwg, Self.crossEntropyChunkBytes / (4 * call.n) / p.nwg * p.nwg))
        let dz = try arena.tensor(shape: [call.n, chunk], dtype: call.dtype)
        let mask = try arena.tensor(shape: [tokenTiles, chunk / p.nwg], dtype: .bool)
        let biasPart = try call.bias.map { _ in try arena.tensor(shape: [tokenTiles, chunk], dtype: .float32) }
        // dE accumulates over chunks in fp32: in place for fp32, else in scratch
        let dE = call.dtype == .float32 ? gradients.embeddings
            : try arena.tensor(shape: [call.n, call.d], dtype: .float32)
        let operands = try crossEntropyOperands(call)
        let groupSize = context.device.isCPU ? 1 : 64
        for lo in stride(from: 0, to: call.columns, by: chunk) {
            let vc = min(chunk, call.columns - lo)
            let chunkTiles = (vc + p.nwg - 1) / p.nwg
            let classifier = try call.classifier.slice(axis: 0, lo ..< lo + vc)
            let bias = try call.bias.map { try $0.slice(axis: 0, lo ..< lo + vc) }
            try launch(crossEntropySpec("backward", "cce_dlogits", call, p), Grid(
                global: [chunkTiles * p.ndimc, tokenTiles * p.mdimc], local: [p.ndimc, p.mdimc]),
                operands.replacing(try matrixArguments("c", classifier) + biasArguments(bias)) + targetArguments(call) + [
                    "lse": .buffer(try logSumExp.deviceBuffer()), "weights": .buffer(try weightTensor.deviceBuffer()),
                    "n": .int(call.n), "vc": .int(vc), "dz_row_stride": .int(chunk), "d": .int(call.d),
                    "cap": .float(options.softCap ?? 0), "target_lo": .int(call.shard.range.lowerBound + lo),
                    "zloss2": .float(2 * options.zLoss), "smooth_per_column": .float(options.labelSmoothing / Float(call.shard.size)),
                    "smoothing": .float(options.labelSmoothing), "filter": .float(options.gradientFilter ?? 0),
                    "dz": .buffer(try dz.deviceBuffer()), "mask": .buffer(try mask.deviceBuffer()),
                    "mask_row_stride": .int(chunk / p.nwg),
                    "bias_part": .buffer(try biasPart?.deviceBuffer()),
                ], on: context)
            let gradient = try dz.slice(axis: 1, 0 ..< vc)
            let blocks = try mask.slice(axis: 1, 0 ..< chunkTiles)   // [token tiles, chunk tiles]
            let dECall = try MatmulCall(gradient, classifier, transposeA: false, transposeB: false, alpha: scale,
                                        beta: lo == 0 ? 0 : 1, engine: self)
            let dCCall = try MatmulCall(gradient, call.embeddings, transposeA: true, transposeB: false, alpha: scale,
                                        beta: 0, engine: self)
            // the filter's mask, as matmul reads it over op(A) = dZ, and over dZᵀ transposed
            let filtered = options.gradientFilter != nil
            try encodeMatmul(dECall, into: dE, preset: preset, aMask: filtered
                ? try MatmulBlockMask(blocks, rows: p.mwg, cols: p.nwg, for: dECall) : nil, on: context)
            try encodeMatmul(dCCall, into: try gradients.classifier.slice(axis: 0, lo ..< lo + vc), preset: preset,
                             aMask: filtered
                ? try MatmulBlockMask(try blocks.transposed(), rows: p.nwg, cols: p.mwg, for: dCCall) : nil, on: context)
            if let dBias = gradients.bias, let biasPart {
                let out = try dBias.slice(axis: 0, lo ..< lo + vc)
                try launch(crossEntropySpec("backward", "cce_bias_grad", call, p, groupSize: groupSize),
                           .linear(vc, groupSize: groupSize), [
                               "bias_part": .buffer(try biasPart.deviceBuffer()), "token_tiles": .int(tokenTiles),
                               "vc": .int(vc), "scale": .float(scale), "dbias": .buffer(try out.deviceBuffer()),
                               "dbias_offset": .int64(out.offset),
                               "dbias_stride": .int64(out.strides[0]),
                           ], on: context)
            }
        }
        if dE !== gradients.embeddings { try encodeConvert(dE, into: gradients.embeddings, on: context) }
    }

    // MARK: Plan and arguments

    /// The preset's tiles, checked against the device (the kernels add the z tile to
    /// matmul's two k-block tiles).
    private func crossEntropyTiles(_ call: CrossEntropyCall, preset: KernelPreset,
                                   on context: OpenCLContext) throws -> MatmulParameters {
        let p = matmulParameters(preset, device: context.device)
        let localBytes = p.workGroupSize > 1 ? p.localBytes + (p.mwg * p.nwg + p.nwg + p.workGroupSize) * 4 : 0
        guard p.workGroupSize <= context.device.maxWorkGroupSize, UInt64(localBytes) <= context.device.localMemoryBytes else {
            throw FusedKernelsError.invalidArgument(argument: "preset", reason:
                "\(p) needs \(p.workGroupSize) items and \(localBytes) B of local memory; \(context.device.name) has "
                    + "\(context.device.maxWorkGroupSize) and \(context.device.localMemoryBytes)")
        }
        return p
    }

    private func crossEntropySpec(_ file: String, _ entry: String, _ call: CrossEntropyCall, _ p: MatmulParameters,
                                  groupSize: Int = 1) -> KernelSpec {
        KernelSpec(file: "cce/\(file).cl", entry: entry,
                   defines: p.defines.merging(["DTYPE": call.dtype.kernelCode, "WG_SIZE": groupSize]) { $1 })
    }

    /// E, C and the bias as `cce/logits.h` takes them.
    private func crossEntropyOperands(_ call: CrossEntropyCall) throws -> KernelArguments {
        try matrixArguments("e", call.embeddings) + matrixArguments("c", call.classifier) + biasArguments(call.bias)
    }

    private func matrixArguments(_ name: String, _ matrix: Tensor) throws -> KernelArguments {
        [name: .buffer(try matrix.deviceBuffer()), name + "_offset": .int64(matrix.offset),
         name + "_row_stride": .int64(matrix.strides[0]), name + "_col_stride": .int64(matrix.strides[1])]
    }

    private func biasArguments(_ bias: Tensor?) throws -> KernelArguments {
        ["bias": .buffer(try bias?.deviceBuffer()), "bias_offset": .int64(bias?.offset ?? 0),
         "bias_stride": .int64(bias?.strides[0] ?? 0), "has_bias": .int(bias == nil ? 0 : 1)]
    }

    private func targetArguments(_ call: CrossEntropyCall) throws -> KernelArguments {
        ["targets": .buffer(try call.targets.deviceBuffer()), "targets_offset": .int64(call.targets.offset),
         "targets_stride": .int64(call.targets.strides[0])]
    }
}
