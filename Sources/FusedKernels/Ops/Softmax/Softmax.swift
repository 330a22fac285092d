/// The softmax family's public API: softmax, log-softmax and log-sum-exp over the last
/// axis of a tensor of any rank, forward and backward, stored as fp32, fp16 or bf16
/// (arithmetic in fp32). Every argument is checked before anything is allocated or run
/// (`SoftmaxCall`); then the op runs on OpenCL (`SoftmaxKernels.swift`) or on the CPU
/// path (`SoftmaxCPU.swift`).
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
            try encodeSoftmaxForward(call, plan: softmaxPlan(call, on: context), into: try outputRows(y), on: context)
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

/// A checked softmax-family forward: x, and each mask as a view broadcast to x's shape.
struct SoftmaxCall {
    let x: Tensor
    let output: SoftmaxOutput
    let options: SoftmaxOptions
    let additive: Tensor?
    let keep: Tensor?
    let shape: Shape

    init(_ x: Tensor, output: SoftmaxOutput, options: SoftmaxOptions, engine: Engine) throws {
        try engine.checkFloatingInput(x, "x")
        try engine.checkFinite(options.scale, "scale")
        additive = try engine.broadcastMask(options.additiveMask, "additiveMask", dtype: .float32, to: x.shape)
        keep = try engine.broadcastMask(options.keepMask, "keepMask", dtype: .bool, to: x.shape)
        self.x = x
        self.output = output
        self.options = options
        shape = Shape(rows: x.count / x.shape[x.rank - 1], cols: x.shape[x.rank - 1])
    }
}

extension Engine {
    func checkFloatingInput(_ x: Tensor, _ argument: String) throws {
        try checkOwner(x, argument)
        guard x.dtype.isFloatingPoint else {
            throw FusedKernelsError.dtypeMismatch(argument: argument, expected: .float32, actual: x.dtype)
        }
    }

    func checkFinite(_ value: Float, _ argument: String) throws {
        guard value.isFinite else {
            throw FusedKernelsError.invalidArgument(argument: argument, reason: "must be finite, got \(value)")
        }
    }

    /// `mask` (this engine's, of `dtype`) as a view of x's shape.
    func broadcastMask(_ mask: Tensor?, _ argument: String, dtype: DType, to shape: [Int]) throws -> Tensor? {
        guard let mask else { return nil }
        try checkOwner(mask, argument)
        guard mask.dtype == dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: argument, expected: dtype, actual: mask.dtype)
        }
        do { return try mask.broadcast(to: shape) } catch {
            throw FusedKernelsError.shapeMismatch(argument: argument, expected: shape, actual: mask.shape)
        }
    }

    /// Checks an output given by the caller: this engine's, of the op's shape and dtype,
    /// a view whose writes land on distinct elements, sharing no storage with an input.
    func checkOutput(_ output: Tensor, _ argument: String, shape: [Int], dtype: DType, inputs: [Tensor?]) throws {
        try checkOwner(output, argument)
        guard output.shape == shape else {
            throw FusedKernelsError.shapeMismatch(argument: argument, expected: shape, actual: output.shape)
        }
        guard output.dtype == dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: argument, expected: dtype, actual: output.dtype)
        }
        guard output.isWritable else {
            throw FusedKernelsError.invalidArgument(
                argument: argument, reason: "must be a view with dense, non-overlapping rows (no broadcast axis)")
        }
        guard !inputs.contains(where: { $0?.storage === output.storage }) else {
            throw FusedKernelsError.invalidArgument(argument: argument, reason: "must not share storage with an input")
        }
    }
}
