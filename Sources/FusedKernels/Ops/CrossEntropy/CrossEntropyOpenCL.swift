/// Cut cross-entropy on OpenCL (`CrossEntropyKernels`): executes a `CrossEntropyPlan`
/// (forward) or a `CrossEntropyBackwardPlan`, binding each launch's arguments by name.
extension Engine {
    func crossEntropyPlan(_ call: CrossEntropyCall, loss: CrossEntropyPlan.Loss, preset: KernelPreset,
                          on context: OpenCLContext) -> CrossEntropyPlan {
        CrossEntropyPlan(n: call.n, columns: call.columns, dtype: call.dtype,
                         tiles: matmulParameters(preset, device: context.device), loss: loss, device: context.device)
    }

    func encodeCrossEntropyStatistics(_ call: CrossEntropyCall, plan: CrossEntropyPlan, into stats: Tensor,
                                      arena: ScratchArena, on context: OpenCLContext) throws {
        let partials = try arena.tensor(shape: [plan.partialBytes / 4], dtype: .float32)
        let operands = try crossEntropyOperands(call)
        try launch(plan.forward, operands + [
            "n": .int(call.n), "vocab": .int(call.columns), "d": .int(call.d), "cap": .float(call.options.softCap ?? 0),
            "splits": .int(plan.splits), "partials": .buffer(try partials.deviceBuffer()),
        ], on: context)
        try launch(plan.statistics, operands + targetArguments(call) + [
            "n": .int(call.n), "vocab": .int(call.columns), "d": .int(call.d),
            "cap": .float(call.options.softCap ?? 0), "shard_lo": .int(call.shard.range.lowerBound),
            "splits": .int(plan.splits), "partials": .buffer(try partials.deviceBuffer()),
            "stats": .buffer(try stats.deviceBuffer()),
        ], on: context)
    }

    /// The loss (`nil`: only the log-sum-exp) from `cce_forward`'s statistics.
    func encodeCrossEntropyLoss(_ call: CrossEntropyCall, plan: CrossEntropyPlan, statistics: Tensor, loss: Tensor?,
                                logSumExp: Tensor, arena: ScratchArena, on context: OpenCLContext) throws {
        let options = call.options
        guard let lossLaunch = plan.loss else {
            throw FusedKernelsError.invalidArgument(argument: "plan", reason: "planned without a loss")
        }
        let losses = options.reduction == .none && loss != nil ? loss! : try arena.tensor(shape: [call.n], dtype: .float32)
        try launch(lossLaunch, targetArguments(call) + [
            "stats": .buffer(try statistics.deviceBuffer()), "n": .int(call.n), "ignore_index": .int32(options.ignoreIndex),
            "smoothing": .float(options.labelSmoothing),
            "smooth_per_column": .float(options.labelSmoothing / Float(call.shard.size)), "zloss": .float(options.zLoss),
            "losses": .buffer(try losses.deviceBuffer()), "lse": .buffer(try logSumExp.deviceBuffer()),
        ], on: context)
        guard let loss, let reduce = plan.reduce else { return }
        let scale: Float = options.reduction == .sum ? 1 : call.counted == 0 ? 0 : 1 / Float(call.counted)
        try launch(reduce, [
            "losses": .buffer(try losses.deviceBuffer()), "n": .int(call.n), "scale": .float(scale),
            "out": .buffer(try loss.deviceBuffer()),
        ], on: context)
    }

    func crossEntropyBackwardPlan(_ call: CrossEntropyCall, preset: KernelPreset,
                                  on context: OpenCLContext) -> CrossEntropyBackwardPlan {
        CrossEntropyBackwardPlan(n: call.n, d: call.d, columns: call.columns, dtype: call.dtype, hasBias: call.bias != nil,
                                 tiles: matmulParameters(preset, device: context.device), device: context.device)
    }

    /// `weights`: the per-token factor of the upstream gradient (0 for ignored tokens).
    /// The kernels see them divided by the largest |w|, which the products and the bias
    /// sums multiply back in (their α): dZ then stays near 1 instead of g/N, so an fp16
    /// dZ keeps its precision (g/N would be fp16-subnormal for N in the thousands).
    func encodeCrossEntropyBackward(_ call: CrossEntropyCall, plan: CrossEntropyBackwardPlan, logSumExp: Tensor,
                                    weights: [Float], into gradients: LinearCrossEntropyGradients, arena: ScratchArena,
                                    preset: KernelPreset, on context: OpenCLContext) throws {
        let p = plan.tiles
        let scale = weights.lazy.map(abs).max().flatMap { $0 > 0 ? $0 : nil } ?? 1
        let weightTensor = try arena.tensor(shape: [call.n], dtype: .float32)
        try weightTensor.store(weights.map { $0 / scale })
        let options = call.options
        let shapes = plan.scratchShapes(n: call.n)
        let dz = try arena.tensor(shape: shapes.dz, dtype: call.dtype)
        let mask = try arena.tensor(shape: shapes.mask, dtype: .bool)
        let biasPart = try shapes.biasPartials.map { try arena.tensor(shape: $0, dtype: .float32) }
        // dE accumulates over chunks in fp32: in place for fp32, else in scratch
        let dE = call.dtype == .float32 ? gradients.embeddings
            : try arena.tensor(shape: [call.n, call.d], dtype: .float32)
        let operands = try crossEntropyOperands(call)
        for lo in stride(from: 0, to: call.columns, by: plan.chunk) {
            let vc = min(plan.chunk, call.columns - lo)
            let chunkTiles = (vc + p.nwg - 1) / p.nwg
            let classifier = try call.classifier.slice(axis: 0, lo ..< lo + vc)
            let bias = try call.bias.map { try $0.slice(axis: 0, lo ..< lo + vc) }
            try launch(plan.dlogits(columns: vc),
                operands.replacing(try matrixArguments("c", classifier) + biasArguments(bias)) + targetArguments(call) + [
                    "lse": .buffer(try logSumExp.deviceBuffer()), "weights": .buffer(try weightTensor.deviceBuffer()),
                    "n": .int(call.n), "vc": .int(vc), "dz_row_stride": .int(plan.chunk), "d": .int(call.d),
                    "cap": .float(options.softCap ?? 0), "target_lo": .int(call.shard.range.lowerBound + lo),
                    "zloss2": .float(2 * options.zLoss), "smooth_per_column": .float(options.labelSmoothing / Float(call.shard.size)),
                    "smoothing": .float(options.labelSmoothing), "filter": .float(options.gradientFilter ?? 0),
                    "dz": .buffer(try dz.deviceBuffer()), "mask": .buffer(try mask.deviceBuffer()),
                    "mask_row_stride": .int(plan.chunk / p.nwg),
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
                try launch(plan.biasGradient(columns: vc), [
                    "bias_part": .buffer(try biasPart.deviceBuffer()), "token_tiles": .int(plan.tokenTiles),
                    "vc": .int(vc), "scale": .float(scale), "dbias": .buffer(try out.deviceBuffer()),
                    "dbias_offset": .int64(out.offset), "dbias_stride": .int64(out.strides[0]),
                ], on: context)
            }
        }
        if dE !== gradients.embeddings { try encodeConvert(dE, into: gradients.embeddings, on: context) }
    }

    // MARK: Arguments

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
