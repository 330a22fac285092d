/// OpenCL launch code of the softmax family (`Kernels/softmax.cl`): build options
/// and launch geometry live here, next to nothing else.
/// A built softmax kernel and the launch parameters it was specialised for.
struct SoftmaxKernel {
    let kernel: CLKernel
    let launch: SoftmaxLaunchParameters
}

/// A softmax-family forward built for one shape: its plan and kernels
/// (`softmax_forward`, or `softmax_shard_stats` then `softmax_shard_output`).
struct SoftmaxForward {
    let plan: SoftmaxPlan
    let kernels: [CLKernel]
    /// What every kernel of the plan was built with (its work-group size too).
    let launch: SoftmaxLaunchParameters
    /// Items of the last launch: one per row and shard, or one per row for the
    /// outputs that are one value (or pair) per row.
    let perRowOutput: Bool
}

extension Engine {
    /// `kind == nil` builds the statistics mode: one (m, d) pair of floats per row.
    /// `rowFactor` multiplies each row's softmax by a per-row factor (LSE backward).
    func softmaxForwardKernel(kind: SoftmaxKind?, dtype: DType, shape: Shape, options: SoftmaxOptions,
                              rowFactor: Bool = false, on context: OpenCLContext) throws -> SoftmaxForward {
        let plan = SoftmaxPlan.choose(kind: kind, shape: shape, variant: options.variant, device: context.device,
                                      tuning: tuning)
        var buildOptions = [
            "-DDTYPE=\(dtype.kernelCode)",
            "-DOUTPUT_MODE=\(kind?.outputMode ?? 3)",
            "-DBLOCK_MAX_COLS=\(SoftmaxVariant.blockMaxColumns)",
            "-DHAS_ROW_FACTOR=\(rowFactor ? 1 : 0)",
            "-DHAS_ADD_MASK=\(options.additiveMask == nil ? 0 : 1)",
            "-DHAS_BOOL_MASK=\(options.keepMask == nil ? 0 : 1)",
            "-DLOG_SOFTMAX=0",
        ]
        let names: [String]
        let launch: SoftmaxLaunchParameters
        switch plan {
        case .rows(let variant, let rowsLaunch):
            launch = rowsLaunch
            buildOptions += ["-DVARIANT=\(variant)"]
            names = ["softmax_forward"]
        case .shards:
            launch = tuning.softmax(cols: shape.cols)
            buildOptions += ["-DVARIANT=0"]
            names = ["softmax_shard_stats", "softmax_shard_output"]
        }
        return SoftmaxForward(plan: plan, kernels: try names.map {
            try kernel($0, file: "softmax.cl", options: buildOptions + launch.buildOptions, on: context)
        }, launch: launch, perRowOutput: kind != .softmax && kind != .logSoftmax)
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
    func launchSoftmaxForward(_ forward: SoftmaxForward, x: CLBuffer, y: CLBuffer, shape: Shape,
                              options: SoftmaxOptions, strides: (additiveStride: Int, keepStride: Int),
                              rowFactor: CLBuffer? = nil, on context: OpenCLContext) throws {
        let additive = try options.additiveMask.map { mask in try mask.withUnsafeBufferPointer { try context.makeBuffer($0) } }
        let keep = try options.keepMask.map { mask in try mask.withUnsafeBufferPointer { try context.makeBuffer($0) } }
        // Arguments every forward kernel takes, from index `first` on: masks, sizes, scale.
        func setCommonArguments(_ kernel: CLKernel, from first: Int) throws {
            try kernel.setArg(first, additive)
            try kernel.setArg(first + 1, keep)
            try kernel.setArg(first + 2, Int32(shape.rows))
            try kernel.setArg(first + 3, Int32(shape.cols))
            try kernel.setArg(first + 4, Int32(strides.additiveStride))
            try kernel.setArg(first + 5, Int32(strides.keepStride))
            try kernel.setArg(first + 6, options.scale)
        }
        let launch = forward.launch
        func enqueue(_ kernel: CLKernel, items: Int) throws {
            record(try context.enqueue(kernel, global: launch.globalSize(items: items), local: launch.workGroupSize))
        }
        switch forward.plan {
        case .rows:
            let kernel = forward.kernels[0]
            try kernel.setArg(0, x)
            try kernel.setArg(1, y)
            try setCommonArguments(kernel, from: 2)
            try kernel.setArg(9, rowFactor)
            try enqueue(kernel, items: launch.items(rows: shape.rows))
        case .shards(let layout):
            let (statsKernel, outputKernel) = (forward.kernels[0], forward.kernels[1])
            let items = shape.rows * layout.shards
            let stats = try context.makeBuffer(bytes: items * 2 * MemoryLayout<Float>.size)
            try statsKernel.setArg(0, x)
            try setCommonArguments(statsKernel, from: 1)
            try statsKernel.setArg(8, Int32(layout.shardColumns))
            try statsKernel.setArg(9, Int32(layout.shards))
            try statsKernel.setArg(10, stats)
            try enqueue(statsKernel, items: items)
            try outputKernel.setArg(0, x)
            try outputKernel.setArg(1, y)
            try setCommonArguments(outputKernel, from: 2)
            try outputKernel.setArg(9, Int32(layout.shardColumns))
            try outputKernel.setArg(10, Int32(layout.shards))
            try outputKernel.setArg(11, stats)
            try outputKernel.setArg(12, rowFactor)
            try enqueue(outputKernel, items: forward.perRowOutput ? shape.rows : items)
        }
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
        let launch = softmax.launch
        record(try context.enqueue(kernel, global: launch.globalSize(items: launch.items(rows: shape.rows)),
                                   local: launch.workGroupSize))
    }
}

