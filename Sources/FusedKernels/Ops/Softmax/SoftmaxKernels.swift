/// The softmax family on OpenCL (`Kernels/softmax/`): kernel specs, launch geometry and
/// arguments, next to nothing else.
extension Engine {
    /// Runs the forward of `call` into `output` (the statistics mode writes one (m, d)
    /// pair of floats per row). `rowFactor` multiplies each row's softmax by a per-row
    /// factor (the log-sum-exp backward).
    func encodeSoftmaxForward(_ call: SoftmaxCall, into output: KernelRows, rowFactor: CLBuffer? = nil,
                              on context: OpenCLContext) throws {
        let shape = call.shape
        let plan = SoftmaxPlan.choose(kind: call.kind, shape: shape, variant: call.options.variant,
                                      device: context.device, tuning: tuning)
        let launch: SoftmaxLaunchParameters
        switch plan {
        case .rows(_, let rowsLaunch): launch = rowsLaunch
        case .shards: launch = tuning.softmaxLaunch(cols: shape.cols)
        }
        let defines = launch.defines.merging([
            "DTYPE": call.x.dtype.kernelCode,
            "OUTPUT_MODE": call.kind?.outputMode ?? 3,
            "BLOCK_MAX_COLS": SoftmaxVariant.blockMaxColumns,
            "HAS_ADD_MASK": call.additive == nil ? 0 : 1,
            "HAS_BOOL_MASK": call.keep == nil ? 0 : 1,
        ] as [String: CustomStringConvertible]) { $1 }
        let common = KernelRows.arguments("x", try kernelRows(call.x, on: context))
            + KernelRows.arguments("add_mask", try call.additive.map { try kernelRows($0, on: context) })
            + KernelRows.arguments("bool_mask", try call.keep.map { try kernelRows($0, on: context) })
            + ["rows": .int(shape.rows), "cols": .int(shape.cols), "scale": .float(call.options.scale)]
        let grid = { (items: Int) in Grid.linear(items, groupSize: launch.workGroupSize) }
        switch plan {
        case .rows(let algorithm, _):
            try self.launch(KernelSpec(file: algorithm.file, entry: algorithm.entry, defines: defines),
                            grid(launch.items(rows: shape.rows)),
                            common + KernelRows.arguments("y", output) + ["row_factor": .buffer(rowFactor)], on: context)
        case .shards(let layout):
            let items = shape.rows * layout.shards
            let stats = try context.makeBuffer(bytes: items * 2 * MemoryLayout<Float>.size)
            let shards = common + ["shard_cols": .int(layout.shardColumns), "shards": .int(layout.shards),
                                   "stats": .buffer(stats)]
            let spec = { (entry: String) in KernelSpec(file: "softmax/shards.cl", entry: entry, defines: defines) }
            try self.launch(spec("softmax_shard_stats"), grid(items), shards, on: context)
            let perRow = call.kind != .softmax && call.kind != .logSoftmax
            try self.launch(spec("softmax_shard_output"), grid(perRow ? shape.rows : items),
                            shards + KernelRows.arguments("y", output) + ["row_factor": .buffer(rowFactor)], on: context)
        }
    }

    func encodeSoftmaxBackward(kind: SoftmaxKind, y: Tensor, dy: Tensor, dx: Tensor, scale: Float,
                               on context: OpenCLContext) throws {
        let rows = try kernelRows(y, on: context)
        let launch = tuning.softmaxLaunch(cols: rows.layout.cols)
        let defines = launch.defines.merging(["DTYPE": y.dtype.kernelCode, "LOG_SOFTMAX": kind == .logSoftmax ? 1 : 0]
                                             as [String: CustomStringConvertible]) { $1 }
        try self.launch(KernelSpec(file: "softmax/backward.cl", entry: "softmax_backward", defines: defines),
                        Grid.linear(launch.items(rows: rows.layout.rows), groupSize: launch.workGroupSize),
                        KernelRows.arguments("y", rows) + KernelRows.arguments("dy", try kernelRows(dy, on: context))
                            + KernelRows.arguments("dx", try outputRows(dx))
                            + ["rows": .int(rows.layout.rows), "cols": .int(rows.layout.cols), "scale": .float(scale)],
                        on: context)
    }
}
