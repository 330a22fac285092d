/// The softmax family's public API: softmax, log-softmax and log-sum-exp over the last
/// axis of a tensor of any rank, forward and backward, stored as fp32, fp16 or bf16
/// (arithmetic in fp32). Every argument is checked before anything is allocated or run
/// (`SoftmaxCall`), planned (`SoftmaxPlan`), then run on OpenCL (`SoftmaxOpenCL.swift`) or
/// on the CPU path (`SoftmaxCPU.swift`).
extension Engine {
    // MARK: Forward

    /// Softmax-family forward of `x` over its last axis; the result has x's dtype and
    /// shape (the last extent 1 for log-sum-exp).
    ///
    /// - Parameters:
    ///   - x: a floating tensor of this engine, rank 1–4, any view.
    ///   - kind: softmax, log-softmax or log-sum-exp.
    ///   - options: scale, masks and the forward algorithm.
    /// - Throws: ``FusedKernelsError`` for a tensor of another engine, a non-floating
    ///   `x`, a non-finite scale, or a mask of the wrong dtype or one that does not
    ///   broadcast to x's shape; ``FusedKernelsError/openCL(_:)`` when an OpenCL call fails.
    public func softmax(_ x: Tensor, kind: SoftmaxKind = .softmax,
                        options: SoftmaxOptions = SoftmaxOptions()) throws -> Tensor {
        let call = try SoftmaxCall(x, output: SoftmaxOutput(kind), options: options, engine: self)
        let y = try empty(shape: kind.outputShape(x.shape), dtype: x.dtype)
        try runSoftmax(call, kind: kind, into: y)
        return y
    }

    /// Softmax-family forward into `y` (x's dtype, the output shape, a view whose rows
    /// do not overlap, not sharing storage with x or a mask): no allocation in a loop.
    /// Returns where it ran; `y` is written only once every check has passed.
    @discardableResult
    public func softmax(_ x: Tensor, into y: Tensor, kind: SoftmaxKind = .softmax,
                        options: SoftmaxOptions = SoftmaxOptions()) throws -> Backend {
        let call = try SoftmaxCall(x, output: SoftmaxOutput(kind), options: options, engine: self)
        try checkOutput(y, "y", shape: kind.outputShape(x.shape), dtype: x.dtype,
                        inputs: [x, options.additiveMask, options.keepMask])
        return try runSoftmax(call, kind: kind, into: y)
    }

    @discardableResult
    func runSoftmax(_ call: SoftmaxCall, kind: SoftmaxKind, into y: Tensor) throws -> Backend {
        try dispatch("softmax", openCL: { context in
            let plan = softmaxPlan(call, on: context)
            try prepare(plan, on: context)
            try encodeSoftmaxForward(call, plan: plan, into: try outputRows(y), on: context)
        }, cpu: {
            try cpuSoftmaxForward(call, kind: kind, into: y)
        }).1
    }

    // MARK: Backward

    /// Gradient of softmax (`kind == .softmax`) or log-softmax with respect to x, from
    /// the forward's output `y` and the upstream gradient `dy` (same shape and dtype);
    /// `scale` is the forward's; `preset` the kernel's shape on OpenCL (as in
    /// ``SoftmaxOptions/preset``).
    public func softmaxBackward(output y: Tensor, gradient dy: Tensor, kind: SoftmaxKind = .softmax,
                                scale: Float = 1, preset: KernelPreset = .auto) throws -> Tensor {
        try checkBackward(y, dy, kind: kind, scale: scale)
        let dx = try empty(shape: y.shape, dtype: y.dtype)
        try runSoftmaxBackward(y, dy, into: dx, kind: kind, scale: scale, preset: preset)
        return dx
    }

    /// Gradient of softmax or log-softmax into `dx` (y's shape and dtype, a view whose
    /// rows do not overlap, sharing no storage with `y` or `dy`). Returns where it ran.
    @discardableResult
    public func softmaxBackward(output y: Tensor, gradient dy: Tensor, into dx: Tensor, kind: SoftmaxKind = .softmax,
                                scale: Float = 1, preset: KernelPreset = .auto) throws -> Backend {
        try checkBackward(y, dy, kind: kind, scale: scale)
        try checkOutput(dx, "dx", shape: y.shape, dtype: y.dtype, inputs: [y, dy])
        return try runSoftmaxBackward(y, dy, into: dx, kind: kind, scale: scale, preset: preset)
    }

    @discardableResult
    private func runSoftmaxBackward(_ y: Tensor, _ dy: Tensor, into dx: Tensor, kind: SoftmaxKind,
                                    scale: Float, preset: KernelPreset) throws -> Backend {
        try dispatch("softmaxBackward", openCL: { context in
            try encodeSoftmaxBackward(kind: kind, y: y, dy: dy, dx: dx, scale: scale, preset: preset, on: context)
        }, cpu: {
            try cpuSoftmaxBackward(kind: kind, y: y, dy: dy, dx: dx, scale: scale)
        }).1
    }

    private func checkBackward(_ y: Tensor, _ dy: Tensor, kind: SoftmaxKind, scale: Float) throws {
        try checkFloatingInput(y, "y")
        try checkOwner(dy, "dy")
        guard kind != .logSumExp else {
            throw FusedKernelsError.invalidArgument(
                argument: "kind", reason: "backward is defined for softmax and logSoftmax, not logSumExp")
        }
        try checkFinite(scale, "scale")
        guard dy.shape == y.shape else {
            throw FusedKernelsError.shapeMismatch(argument: "dy", expected: y.shape, actual: dy.shape)
        }
        guard dy.dtype == y.dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: "dy", expected: y.dtype, actual: dy.dtype)
        }
    }
}
