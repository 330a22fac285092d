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
                                      device: context.device, tuning: tuning,
                                      gpu: usesGPUShape(call.options.preset, on: context.device))
        var defines: [String: CustomStringConvertible] = [
            "DTYPE": call.x.dtype.kernelCode,
            "OUTPUT_MODE": call.kind?.outputMode ?? 3,
            "HAS_ADD_MASK": call.additive == nil ? 0 : 1,
            "HAS_BOOL_MASK": call.keep == nil ? 0 : 1,
        ]
        switch plan {
        case .rows(_, let launch): defines.merge(launch.defines) { $1 }
        case .shards: defines.merge(tuning.softmaxLaunch(cols: shape.cols).defines) { $1 }
        case .groupRows(let groups): defines["WG_SIZE"] = groups.groupSize
        case .groupShards(_, let groupSize): defines["WG_SIZE"] = groupSize
        }
        switch plan {
        case .rows, .shards: defines["BLOCK_MAX_COLS"] = SoftmaxVariant.blockMaxColumns
        case .groupRows, .groupShards: break
        }
        let common = KernelRows.arguments("x", try kernelRows(call.x, on: context))
            + KernelRows.arguments("add_mask", try call.additive.map { try kernelRows($0, on: context) })
            + KernelRows.arguments("bool_mask", try call.keep.map { try kernelRows($0, on: context) })
            + ["rows": .int(shape.rows), "cols": .int(shape.cols), "scale": .float(call.options.scale)]
        let outputs = KernelRows.arguments("y", output) + ["row_factor": .buffer(rowFactor)]
        let spec = { (file: String, entry: String) in KernelSpec(file: file, entry: entry, defines: defines) }
        // Per-row outputs (log-sum-exp, statistics) need one item (or group) per row in
        // the second kernel of a sharded launch.
        let perRow = call.kind != .softmax && call.kind != .logSoftmax
        switch plan {
        case .rows(let algorithm, let launch):
            try self.launch(spec(algorithm.file, algorithm.entry),
                            .linear(launch.items(rows: shape.rows), groupSize: launch.workGroupSize),
                            common + outputs, on: context)
        case .shards(let layout):
            let groupSize = tuning.softmaxLaunch(cols: shape.cols).workGroupSize
            let shards = try shardArguments(layout, rows: shape.rows, on: context)
            try self.launch(spec("softmax/shards.cl", "softmax_shard_stats"),
                            .linear(shape.rows * layout.shards, groupSize: groupSize), common + shards, on: context)
            try self.launch(spec("softmax/shards.cl", "softmax_shard_output"),
                            .linear(perRow ? shape.rows : shape.rows * layout.shards, groupSize: groupSize),
                            common + shards + outputs, on: context)
        case .groupRows(let groups):
            try self.launch(spec("softmax/group_rows.cl", "softmax_group"), groups.grid(rows: shape.rows),
                            common + outputs + ["row_items": .int(groups.rowItems)], on: context)
        case .groupShards(let layout, let groupSize):
            let shards = try shardArguments(layout, rows: shape.rows, on: context)
            try self.launch(spec("softmax/group_shards.cl", "softmax_group_shard_stats"),
                            .linear(shape.rows * layout.shards * groupSize, groupSize: groupSize), common + shards,
                            on: context)
            try self.launch(spec("softmax/group_shards.cl", "softmax_group_shard_output"),
                            .linear((perRow ? shape.rows : shape.rows * layout.shards) * groupSize, groupSize: groupSize),
                            common + shards + outputs, on: context)
        }
    }

    /// The shard kernels' layout arguments and a fresh (m, d) pair per shard.
    private func shardArguments(_ layout: ShardLayout, rows: Int, on context: OpenCLContext) throws -> KernelArguments {
        let stats = try context.makeBuffer(bytes: rows * layout.shards * 2 * MemoryLayout<Float>.size)
        return ["shard_cols": .int(layout.shardColumns), "shards": .int(layout.shards), "stats": .buffer(stats)]
    }

    /// The backward: a work-item per rows (CPU preset, `backward.cl`) or a work-group
    /// segment per row (GPU preset, `group_backward.cl`).
    func encodeSoftmaxBackward(kind: SoftmaxKind, y: Tensor, dy: Tensor, dx: Tensor, scale: Float,
                               preset: KernelPreset, on context: OpenCLContext) throws {
        let rows = try kernelRows(y, on: context)
        let (count, cols) = (rows.layout.rows, rows.layout.cols)
        let arguments = KernelRows.arguments("y", rows) + KernelRows.arguments("dy", try kernelRows(dy, on: context))
            + KernelRows.arguments("dx", try outputRows(dx))
            + ["rows": .int(count), "cols": .int(cols), "scale": .float(scale)]
        var defines: [String: CustomStringConvertible] = ["DTYPE": y.dtype.kernelCode,
                                                          "LOG_SOFTMAX": kind == .logSoftmax ? 1 : 0]
        if usesGPUShape(preset, on: context.device) {
            let groups = RowGroups(cols: cols, groupSize: RowGroups.groupSize(tuning.softmax.gpuWorkGroupSize,
                                                                              device: context.device))
            defines["WG_SIZE"] = groups.groupSize
            try launch(KernelSpec(file: "softmax/group_backward.cl", entry: "softmax_group_backward", defines: defines),
                       groups.grid(rows: count), arguments + ["row_items": .int(groups.rowItems)], on: context)
        } else {
            let launch = tuning.softmaxLaunch(cols: cols)
            try self.launch(KernelSpec(file: "softmax/backward.cl", entry: "softmax_backward",
                                       defines: defines.merging(launch.defines) { $1 }),
                            .linear(launch.items(rows: count), groupSize: launch.workGroupSize), arguments, on: context)
        }
    }
}
