/// A softmax-family forward on an OpenCL device: its layout, the kernels it launches with
/// their grids, and its scratch. Worked out from the call's shape, dtype and masks, the
/// device's description and the tuning, before anything is allocated.
struct SoftmaxPlan: KernelPlan, Equatable {
    let layout: SoftmaxLayout
    let launches: [KernelLaunch]
    /// The shard layouts' partial (m, d) pairs, in bytes (0 without shards).
    let scratchBytes: Int

    /// The plan of `call` (its output, shape, dtype, masks and variant).
    init(_ call: SoftmaxCall, device: OpenCLDevice, tuning: TuningParameters, gpu: Bool) {
        self.init(output: call.output, shape: call.shape, dtype: call.x.dtype, hasAdditiveMask: call.additive != nil,
                  hasKeepMask: call.keep != nil, variant: call.options.variant, device: device, tuning: tuning, gpu: gpu)
    }

    init(output: SoftmaxOutput, shape: Shape, dtype: DType, hasAdditiveMask: Bool, hasKeepMask: Bool,
         variant: SoftmaxVariant, device: OpenCLDevice, tuning: TuningParameters, gpu: Bool) {
        let layout = SoftmaxLayout.choose(output: output, shape: shape, variant: variant, device: device,
                                          tuning: tuning, gpu: gpu)
        var defines: [String: CustomStringConvertible] = [
            "DTYPE": dtype.kernelCode, "OUTPUT_MODE": output.rawValue,
            "HAS_ADD_MASK": hasAdditiveMask ? 1 : 0, "HAS_BOOL_MASK": hasKeepMask ? 1 : 0,
        ]
        switch layout {
        case .rows(_, let launch):
            defines.merge(launch.defines) { $1 }
            defines["BLOCK_MAX_COLS"] = SoftmaxVariant.blockMaxColumns
        case .shards:
            defines.merge(tuning.softmaxLaunch(cols: shape.cols).defines) { $1 }
            defines["BLOCK_MAX_COLS"] = SoftmaxVariant.blockMaxColumns
        case .groupRows(let groups): defines["WG_SIZE"] = groups.groupSize
        case .groupShards(_, let groupSize): defines["WG_SIZE"] = groupSize
        }
        let spec = { (file: String, entry: String) in KernelSpec(file: file, entry: entry, defines: defines) }
        // Per-row outputs (log-sum-exp, statistics) take one item (or group) per row in
        // the second kernel of a sharded launch.
        let outputRows = { (layout: ShardLayout) in output.isPerRow ? shape.rows : shape.rows * layout.shards }
        switch layout {
        case .rows(let algorithm, let launch):
            launches = [KernelLaunch(spec: spec(algorithm.file, algorithm.entry),
                                     grid: .linear(launch.items(rows: shape.rows), groupSize: launch.workGroupSize))]
        case .shards(let shards):
            let groupSize = tuning.softmaxLaunch(cols: shape.cols).workGroupSize
            launches = [
                KernelLaunch(spec: spec(SoftmaxKernels.shards, "softmax_shard_stats"),
                             grid: .linear(shape.rows * shards.shards, groupSize: groupSize)),
                KernelLaunch(spec: spec(SoftmaxKernels.shards, "softmax_shard_output"),
                             grid: .linear(outputRows(shards), groupSize: groupSize)),
            ]
        case .groupRows(let groups):
            launches = [KernelLaunch(spec: spec(SoftmaxKernels.groupRows, "softmax_group"), grid: groups.grid(rows: shape.rows))]
        case .groupShards(let shards, let groupSize):
            launches = [
                KernelLaunch(spec: spec(SoftmaxKernels.groupShards, "softmax_group_shard_stats"),
                             grid: .linear(shape.rows * shards.shards * groupSize, groupSize: groupSize)),
                KernelLaunch(spec: spec(SoftmaxKernels.groupShards, "softmax_group_shard_output"),
                             grid: .linear(outputRows(shards) * groupSize, groupSize: groupSize)),
            ]
        }
        self.layout = layout
        scratchBytes = layout.shardLayout.map { shape.rows * $0.shards * 2 * MemoryLayout<Float>.size } ?? 0
    }
}

/// A softmax or log-softmax backward on an OpenCL device: a work-item per rows (CPU
/// preset) or a work-group segment per row (GPU preset, `rowItems` items per row).
struct SoftmaxBackwardPlan: KernelPlan, Equatable {
    let launches: [KernelLaunch]
    /// The GPU preset's items per row (the `row_items` argument), nil for the CPU preset.
    let rowItems: Int?

    init(kind: SoftmaxKind, shape: Shape, dtype: DType, device: OpenCLDevice, tuning: TuningParameters, gpu: Bool) {
        var defines: [String: CustomStringConvertible] = ["DTYPE": dtype.kernelCode,
                                                          "LOG_SOFTMAX": kind == .logSoftmax ? 1 : 0]
        if gpu {
            let groups = RowGroups(cols: shape.cols, groupSize: RowGroups.groupSize(tuning.softmax.gpuWorkGroupSize,
                                                                                    device: device))
            defines["WG_SIZE"] = groups.groupSize
            launches = [KernelLaunch(spec: KernelSpec(file: SoftmaxKernels.groupBackward, entry: "softmax_group_backward",
                                                      defines: defines), grid: groups.grid(rows: shape.rows))]
            rowItems = groups.rowItems
        } else {
            let launch = tuning.softmaxLaunch(cols: shape.cols)
            launches = [KernelLaunch(spec: KernelSpec(file: SoftmaxKernels.backward, entry: "softmax_backward",
                                                      defines: defines.merging(launch.defines) { $1 }),
                                     grid: .linear(launch.items(rows: shape.rows), groupSize: launch.workGroupSize))]
            rowItems = nil
        }
    }
}

/// How a softmax-family forward lays rows on work-items. CPU preset: whole rows per
/// work-item (one kernel per algorithm), or each row cut into column shards
/// (`softmax_shard_stats`, then `softmax_shard_output`) when there are too few rows to
/// give every compute unit work. GPU preset: a work-group segment per row
/// (`softmax_group`), or a work-group per column shard of a row.
enum SoftmaxLayout: Equatable {
    case rows(SoftmaxAlgorithm, launch: SoftmaxLaunchParameters)
    case shards(ShardLayout)
    case groupRows(RowGroups)
    case groupShards(ShardLayout, groupSize: Int)

    var shardLayout: ShardLayout? {
        switch self {
        case .shards(let layout), .groupShards(let layout, _): return layout
        case .rows, .groupRows: return nil
        }
    }

    static func choose(output: SoftmaxOutput, shape: Shape, variant: SoftmaxVariant, device: OpenCLDevice,
                       tuning: TuningParameters, gpu: Bool) -> SoftmaxLayout {
        if gpu { return chooseGroups(shape: shape, variant: variant, device: device, tuning: tuning) }
        switch variant {
        case .split:
            let shards = tuning.wantedShards(rows: shape.rows, computeUnits: device.computeUnits)
            return .shards(ShardLayout(cols: shape.cols, shards: max(2, shards)))
        case .auto:
            if let layout = tuning.shardLayout(shape, computeUnits: device.computeUnits) { return .shards(layout) }
        default:
            break
        }
        // Fewer rows per work-item when rows are few, so that every compute unit gets some.
        var launch = tuning.softmaxLaunch(cols: shape.cols)
        launch.rowsPerItem = tuning.rowsPerItem(launch.rowsPerItem, rows: shape.rows, computeUnits: device.computeUnits)
        return .rows(algorithm(output: output, cols: shape.cols, variant: variant, device: device, tuning: tuning),
                     launch: launch)
    }

    /// The GPU preset: every variant is its one online kernel, `split` forces shards.
    private static func chooseGroups(shape: Shape, variant: SoftmaxVariant, device: OpenCLDevice,
                                     tuning: TuningParameters) -> SoftmaxLayout {
        let groupSize = RowGroups.groupSize(tuning.softmax.gpuWorkGroupSize, device: device)
        if variant == .split {
            let shards = tuning.wantedShards(rows: shape.rows, computeUnits: device.computeUnits)
            return .groupShards(ShardLayout(cols: shape.cols, shards: max(2, shards)), groupSize: groupSize)
        }
        if variant == .auto, let layout = RowGroups.shards(rows: shape.rows, cols: shape.cols, groupSize: groupSize,
                                                           computeUnits: device.computeUnits,
                                                           groupsPerComputeUnit: tuning.softmax.gpuGroupsPerComputeUnit) {
            return .groupShards(layout, groupSize: groupSize)
        }
        return .groupRows(RowGroups(cols: shape.cols, groupSize: groupSize))
    }

    /// The kernel for whole rows: log-sum-exp and the statistics always take the online
    /// pass; the block kernel only holds rows of up to `blockMaxColumns`.
    private static func algorithm(output: SoftmaxOutput, cols: Int, variant: SoftmaxVariant,
                                  device: OpenCLDevice, tuning: TuningParameters) -> SoftmaxAlgorithm {
        guard !output.isPerRow else { return .online }
        let blockFits = cols <= SoftmaxVariant.blockMaxColumns
        switch variant {
        case .online, .split: return .online
        case .block: return blockFits ? .block : .online
        case .threePass: return .threePass
        case .twoPass: return .twoPass
        case .auto:
            let measured = tuning.softmaxVariant(cols: cols) ?? (blockFits && device.isCPU ? .block : .online)
            return algorithm(output: output, cols: cols, variant: measured, device: device, tuning: tuning)
        }
    }
}

/// The whole-row forward kernels, one file each (`SoftmaxKernels`).
enum SoftmaxAlgorithm: String, Equatable {
    case online, block, threePass = "three_pass", twoPass = "two_pass"

    var file: String {
        switch self {
        case .online: return SoftmaxKernels.online
        case .block: return SoftmaxKernels.block
        case .threePass: return SoftmaxKernels.threePass
        case .twoPass: return SoftmaxKernels.twoPass
        }
    }

    var entry: String { "softmax_\(rawValue)" }
}

extension TuningParameters {
    /// How `auto` cuts rows into column shards when there are fewer than
    /// `itemsPerComputeUnit` per compute unit; nil when rows suffice or are too short
    /// for shards of `minimumShardColumns`.
    func shardLayout(_ shape: Shape, computeUnits: Int) -> ShardLayout? {
        let shards = min(wantedShards(rows: shape.rows, computeUnits: computeUnits),
                         shape.cols / softmax.minimumShardColumns)
        return shards > 1 ? ShardLayout(cols: shape.cols, shards: shards) : nil
    }

    /// Shards per row that give each compute unit `itemsPerComputeUnit` work-items.
    func wantedShards(rows: Int, computeUnits: Int) -> Int {
        (computeUnits * softmax.itemsPerComputeUnit + rows - 1) / rows
    }
}

/// Each row's columns cut into `shards` runs of `shardColumns` (a multiple of 16, the
/// last run shorter), one work-item each.
struct ShardLayout: Equatable {
    let shards: Int
    let shardColumns: Int

    init(cols: Int, shards wanted: Int) {
        shardColumns = ((cols + wanted - 1) / wanted + 15) / 16 * 16
        shards = (cols + shardColumns - 1) / shardColumns
    }
}
