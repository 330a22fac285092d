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
