/// The softmax family's public API: softmax, log-softmax and log-sum-exp over the
/// last axis, forward and backward, on host arrays, buffer pointers or device tensors,
/// stored as fp32, fp16 or bf16 (arithmetic in fp32). Every input is validated before
/// any kernel runs.
extension Engine {
    // MARK: Forward

    /// Softmax-family forward on host arrays; returns `kind.outputCount(shape)` values.
    public func softmax<T: StorageElement>(_ x: [T], shape: Shape, kind: SoftmaxKind = .softmax,
                                           options: SoftmaxOptions = SoftmaxOptions()) throws -> [T] {
        try shape.validate("x")
        var y = [T](repeating: T(0), count: kind.outputCount(shape))
        try x.withUnsafeBufferPointer { x in
            try y.withUnsafeMutableBufferPointer { y in
                _ = try softmax(x, shape: shape, into: y, kind: kind, options: options)
            }
        }
        return y
    }

    /// Softmax-family forward from `x` into `y`; returns where it ran. `y` is only
    /// written once every check has passed and the computation succeeded.
    @discardableResult
    public func softmax<T: StorageElement>(_ x: UnsafeBufferPointer<T>, shape: Shape,
                                           into y: UnsafeMutableBufferPointer<T>, kind: SoftmaxKind = .softmax,
                                           options: SoftmaxOptions = SoftmaxOptions()) throws -> Backend {
        try shape.validate("x")
        try expectCount(x.count, shape.count, "x")
        try expectCount(y.count, kind.outputCount(shape), "y")
        let strides = try options.validate(for: shape)
        let (_, backend) = try dispatch("softmax", openCL: { context in
            let kernel = try softmaxForwardKernel(kind: kind, dtype: T.dtype, shape: shape, options: options, on: context)
            let input = try context.makeBuffer(x)
            let output = try context.makeBuffer(bytes: y.count * T.dtype.byteCount)
            try launchSoftmaxForward(kernel, x: input, y: output, shape: shape, options: options,
                                     strides: strides, on: context)
            try output.read(into: y)
        }, cpu: {
            computeInFloat([x], y) { inputs, output in
                cpuSoftmaxForward(inputs[0], output, shape: shape, kind: kind, options: options, strides: strides)
            }
        })
        return backend
    }

    /// Softmax-family forward on a device tensor; the result stays on the device, in
    /// the input's dtype (`[rows, 1]` for log-sum-exp).
    public func softmax(_ x: DeviceTensor, kind: SoftmaxKind = .softmax,
                        options: SoftmaxOptions = SoftmaxOptions()) throws -> DeviceTensor {
        try checkOwner(x, "x")
        let y = try emptyTensor(kind.outputShape(x.shape), x.dtype)
        try softmax(x, into: y, kind: kind, options: options)
        return y
    }

    /// Softmax-family forward into an existing tensor `y` (same dtype, shape
    /// `kind`'s output shape, not `x` itself): no allocation in a loop.
    public func softmax(_ x: DeviceTensor, into y: DeviceTensor, kind: SoftmaxKind = .softmax,
                        options: SoftmaxOptions = SoftmaxOptions()) throws {
        try checkOutput(y, for: x, shape: kind.outputShape(x.shape))
        let strides = try options.validate(for: x.shape)
        _ = try dispatch("softmax", openCL: { context in
            let kernel = try softmaxForwardKernel(kind: kind, dtype: x.dtype, shape: x.shape, options: options, on: context)
            try launchSoftmaxForward(kernel, x: x.buffer, y: y.buffer, shape: x.shape, options: options,
                                     strides: strides, on: context)
        }, cpu: {
            try onHost(inputs: [x], output: y) { inputs, output in
                cpuSoftmaxForward(inputs[0], output, shape: x.shape, kind: kind, options: options, strides: strides)
            }
        })
    }

    // MARK: Backward

    /// Gradient of softmax (`kind == .softmax`) or log-softmax w.r.t. the input x, from
    /// the forward output `y` and the upstream gradient `dy`; `scale` is the forward's.
    public func softmaxBackward<T: StorageElement>(output y: [T], gradient dy: [T], shape: Shape,
                                                   kind: SoftmaxKind = .softmax, scale: Float = 1) throws -> [T] {
        try shape.validate("y")
        var dx = [T](repeating: T(0), count: shape.count)
        try y.withUnsafeBufferPointer { y in
            try dy.withUnsafeBufferPointer { dy in
                try dx.withUnsafeMutableBufferPointer { dx in
                    _ = try softmaxBackward(output: y, gradient: dy, shape: shape, into: dx, kind: kind, scale: scale)
                }
            }
        }
        return dx
    }

    @discardableResult
    public func softmaxBackward<T: StorageElement>(output y: UnsafeBufferPointer<T>, gradient dy: UnsafeBufferPointer<T>,
                                                   shape: Shape, into dx: UnsafeMutableBufferPointer<T>,
                                                   kind: SoftmaxKind = .softmax, scale: Float = 1) throws -> Backend {
        try validateBackward(shape: shape, kind: kind, scale: scale)
        try expectCount(y.count, shape.count, "y")
        try expectCount(dy.count, shape.count, "dy")
        try expectCount(dx.count, shape.count, "dx")
        let (_, backend) = try dispatch("softmaxBackward", openCL: { context in
            let kernel = try softmaxBackwardKernel(kind: kind, dtype: T.dtype, shape: shape, on: context)
            let (yBuffer, dyBuffer) = (try context.makeBuffer(y), try context.makeBuffer(dy))
            let output = try context.makeBuffer(bytes: dx.count * T.dtype.byteCount)
            try launchSoftmaxBackward(kernel, y: yBuffer, dy: dyBuffer, dx: output, shape: shape, scale: scale,
                                      on: context)
            try output.read(into: dx)
        }, cpu: {
            computeInFloat([y, dy], dx) { inputs, output in
                SoftmaxReference.backward(inputs[0], inputs[1], output, shape: shape, kind: kind, scale: scale)
            }
        })
        return backend
    }

    public func softmaxBackward(output y: DeviceTensor, gradient dy: DeviceTensor, kind: SoftmaxKind = .softmax,
                                scale: Float = 1) throws -> DeviceTensor {
        try checkOwner(y, "y")
        try checkOwner(dy, "dy")
        try validateBackward(shape: y.shape, kind: kind, scale: scale)
        guard dy.shape == y.shape else {
            throw FusedKernelsError.shapeMismatch(argument: "dy", expected: y.shape, actual: dy.shape)
        }
        guard dy.dtype == y.dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: "dy", expected: y.dtype, actual: dy.dtype)
        }
        let dx = try emptyTensor(y.shape, y.dtype)
        _ = try dispatch("softmaxBackward", openCL: { context in
            let kernel = try softmaxBackwardKernel(kind: kind, dtype: y.dtype, shape: y.shape, on: context)
            try launchSoftmaxBackward(kernel, y: y.buffer, dy: dy.buffer, dx: dx.buffer, shape: y.shape,
                                      scale: scale, on: context)
        }, cpu: {
            try onHost(inputs: [y, dy], output: dx) { inputs, output in
                SoftmaxReference.backward(inputs[0], inputs[1], output, shape: y.shape, kind: kind, scale: scale)
            }
        })
        return dx
    }

    // MARK: Checks and the CPU path

    private func validateBackward(shape: Shape, kind: SoftmaxKind, scale: Float) throws {
        try shape.validate("y")
        guard kind != .logSumExp else {
            throw FusedKernelsError.invalidArgument(
                argument: "kind", reason: "backward is defined for softmax and logSoftmax, not logSumExp")
        }
        guard scale.isFinite else {
            throw FusedKernelsError.invalidArgument(argument: "scale", reason: "must be finite, got \(scale)")
        }
    }

    func cpuSoftmaxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, shape: Shape,
                                   kind: SoftmaxKind, options: SoftmaxOptions,
                                   strides: (additiveStride: Int, keepStride: Int)) {
        options.additiveMask.withOptionalPointer { additive in
            options.keepMask.withOptionalPointer { keep in
                let masks = SoftmaxReference.Masks(additive: additive, additiveStride: strides.additiveStride,
                                                   keep: keep, keepStride: strides.keepStride)
                if kind == .logSumExp {
                    SoftmaxReference.forward(x, y, shape: shape, kind: kind, scale: options.scale, masks: masks)
                } else {
                    SoftmaxVariantsCPU.forward(x, y, shape: shape, kind: kind, scale: options.scale, masks: masks,
                                               variant: options.variant)
                }
            }
        }
    }
}

func expectCount(_ actual: Int, _ expected: Int, _ argument: String) throws {
    guard actual == expected else {
        throw FusedKernelsError.sizeMismatch(argument: argument, expected: expected, actual: actual)
    }
}

extension Optional {
    /// Calls `body` with a pointer to the array's elements, or `nil` when there is no array.
    func withOptionalPointer<Element, R>(_ body: (UnsafePointer<Element>?) throws -> R) rethrows -> R
    where Wrapped == [Element] {
        guard let array = self else { return try body(nil) }
        return try array.withUnsafeBufferPointer { try body($0.baseAddress) }
    }
}
