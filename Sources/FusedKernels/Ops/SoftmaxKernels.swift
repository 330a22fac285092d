/// OpenCL launch code of the softmax family (`Kernels/softmax.cl`): build options
/// and launch geometry live here, next to nothing else.
/// A built softmax kernel and the launch parameters it was specialised for.
struct SoftmaxKernel {
    let kernel: CLKernel
    let launch: SoftmaxLaunchParameters
}

extension Engine {
    /// `kind == nil` builds the statistics mode: one (m, d) pair of floats per row.
    /// `rowFactor` multiplies each row's softmax by a per-row factor (LSE backward).
    func softmaxForwardKernel(kind: SoftmaxKind?, dtype: DType, shape: Shape, options: SoftmaxOptions,
                              rowFactor: Bool = false, on context: OpenCLContext) throws -> SoftmaxKernel {
        let launch = tuning.softmax(cols: shape.cols)
        return SoftmaxKernel(kernel: try kernel("softmax_forward", file: "softmax.cl", options: [
            "-DDTYPE=\(dtype.kernelCode)",
            "-DOUTPUT_MODE=\(kind?.outputMode ?? 3)",
            "-DVARIANT=\(options.variant.kernelVariant(kind: kind, cols: shape.cols, device: context.device))",
            "-DBLOCK_MAX_COLS=\(SoftmaxVariant.blockMaxColumns)",
            "-DHAS_ROW_FACTOR=\(rowFactor ? 1 : 0)",
            "-DHAS_ADD_MASK=\(options.additiveMask == nil ? 0 : 1)",
            "-DHAS_BOOL_MASK=\(options.keepMask == nil ? 0 : 1)",
            "-DLOG_SOFTMAX=0",
        ] + launch.buildOptions, on: context), launch: launch)
    }

    func softmaxBackwardKernel(kind: SoftmaxKind, dtype: DType, shape: Shape,
                               on context: OpenCLContext) throws -> SoftmaxKernel {
        let launch = tuning.softmax(cols: shape.cols)
        return SoftmaxKernel(kernel: try kernel("softmax_backward", file: "softmax.cl", options: [
            "-DDTYPE=\(dtype.kernelCode)",
            "-DOUTPUT_MODE=0", "-DHAS_ADD_MASK=0", "-DHAS_BOOL_MASK=0",
            "-DLOG_SOFTMAX=\(kind == .logSoftmax ? 1 : 0)",
        ] + launch.buildOptions, on: context), launch: launch)
    }

    /// Masks are uploaded per call (they are small next to the activations).
    func launchSoftmaxForward(_ softmax: SoftmaxKernel, x: CLBuffer, y: CLBuffer, shape: Shape, options: SoftmaxOptions,
                              strides: (additiveStride: Int, keepStride: Int), rowFactor: CLBuffer? = nil,
                              on context: OpenCLContext) throws {
        let kernel = softmax.kernel
        let additive = try options.additiveMask.map { mask in try mask.withUnsafeBufferPointer { try context.makeBuffer($0) } }
        let keep = try options.keepMask.map { mask in try mask.withUnsafeBufferPointer { try context.makeBuffer($0) } }
        try kernel.setArg(0, x)
        try kernel.setArg(1, y)
        try kernel.setArg(2, additive)
        try kernel.setArg(3, keep)
        try kernel.setArg(4, Int32(shape.rows))
        try kernel.setArg(5, Int32(shape.cols))
        try kernel.setArg(6, Int32(strides.additiveStride))
        try kernel.setArg(7, Int32(strides.keepStride))
        try kernel.setArg(8, options.scale)
        try kernel.setArg(9, rowFactor)
        record(try context.enqueue(kernel, global: softmax.launch.items(rows: shape.rows), local: 1))
    }

    func launchSoftmaxBackward(_ softmax: SoftmaxKernel, y: CLBuffer, dy: CLBuffer, dx: CLBuffer, shape: Shape,
                               scale: Float, on context: OpenCLContext) throws {
        let kernel = softmax.kernel
        try kernel.setArg(0, y)
        try kernel.setArg(1, dy)
        try kernel.setArg(2, dx)
        try kernel.setArg(3, Int32(shape.rows))
        try kernel.setArg(4, Int32(shape.cols))
        try kernel.setArg(5, scale)
        record(try context.enqueue(kernel, global: softmax.launch.items(rows: shape.rows), local: 1))
    }
}

