/// How a softmax-family forward is laid out on an OpenCL device. CPU preset: whole rows
/// per work-item (one kernel per algorithm), or each row cut into column shards
/// (`softmax_shard_stats`, then `softmax_shard_output`) when there are too few rows to
/// give every compute unit work. GPU preset: a work-group segment per row
/// (`softmax_group`), or a work-group per column shard of a row.
enum SoftmaxPlan: Equatable {
    case rows(SoftmaxAlgorithm, launch: SoftmaxLaunchParameters)
    case shards(ShardLayout)
    case groupRows(RowGroups)
    case groupShards(ShardLayout, groupSize: Int)

    /// `kind == nil` is the normalizer statistics.
    static func choose(kind: SoftmaxKind?, shape: Shape, variant: SoftmaxVariant, device: OpenCLDevice,
                       tuning: TuningParameters, gpu: Bool) -> SoftmaxPlan {
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
        return .rows(algorithm(kind: kind, cols: shape.cols, variant: variant, device: device, tuning: tuning),
                     launch: launch)
    }

    /// The GPU preset: every variant is its one online kernel, `split` forces shards.
    private static func chooseGroups(shape: Shape, variant: SoftmaxVariant, device: OpenCLDevice,
                                     tuning: TuningParameters) -> SoftmaxPlan {
        let groupSize = RowGroups.groupSize(tuning.softmax.gpuWorkGroupSize, device: device)
        if variant == .split {
            let shards = tuning.wantedShards(rows: shape.rows, computeUnits: device.computeUnits)
            return .groupShards(ShardLayout(cols: shape.cols, shards: max(2, shards)), groupSize: groupSize)
        }
        if variant == .auto, let layout = RowGroups.shards(rows: shape.rows, cols: shape.cols, groupSize: groupSize,
                                                           computeUnits: device.computeUnits,
                                                           groupsPerComputeUnit: tuning.softmax.itemsPerComputeUnit) {
            return .groupShards(layout, groupSize: groupSize)
        }
        return .groupRows(RowGroups(cols: shape.cols, groupSize: groupSize))
    }

    /// The kernel for whole rows: log-sum-exp and the statistics always take the online
    /// pass; the block kernel only holds rows of up to `blockMaxColumns`.
    private static func algorithm(kind: SoftmaxKind?, cols: Int, variant: SoftmaxVariant,
                                  device: OpenCLDevice, tuning: TuningParameters) -> SoftmaxAlgorithm {
        guard kind == .softmax || kind == .logSoftmax else { return .online }
        let blockFits = cols <= SoftmaxVariant.blockMaxColumns
        switch variant {
        case .online, .split: return .online
        case .block: return blockFits ? .block : .online
        case .threePass: return .threePass
        case .twoPass: return .twoPass
        case .auto:
            let measured = tuning.softmaxVariant(cols: cols) ?? (blockFits && device.isCPU ? .block : .online)
            return algorithm(kind: kind, cols: cols, variant: measured, device: device, tuning: tuning)
        }
    }
}

/// The whole-row forward kernels, one file each (`Kernels/softmax/`).
enum SoftmaxAlgorithm: String, Equatable {
    case online, block, threePass = "three_pass", twoPass = "two_pass"

    var file: String { "softmax/\(rawValue).cl" }
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
