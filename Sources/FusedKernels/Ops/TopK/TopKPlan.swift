/// A top-k (or fused softmax + top-k) on an OpenCL device. CPU preset: one work-item per
/// `rowsPerItem` rows, no barriers (`TopKTuning.rowsPerItem`, fewer for few rows). GPU
/// preset (`topk/group.cl`): a work-group per row whose items' lists merge in `__local`
/// memory. Rows too few for the device are split into column shards (an item, or a
/// group, each) whose candidates one item per row merges (`…_merge`).
struct TopKPlan: KernelPlan, Equatable {
    let launches: [KernelLaunch]
    /// The column shards, nil for whole rows.
    let shards: ShardLayout?
    /// Candidate scratch: k values and k indices per (row, shard), and an (m, d) pair.
    let candidateBytes: Int
    let statsBytes: Int

    init(k: Int, softmax: Bool, shape: Shape, dtype: DType, device: OpenCLDevice, tuning: TuningParameters,
         gpu: Bool) {
        let computeUnits = device.computeUnits
        let rowsPerItem = tuning.rowsPerItem(tuning.topK.rowsPerItem, rows: shape.rows, computeUnits: computeUnits)
        let prefix = softmax ? "softmax_topk" : "topk"
        let rowSpec = { (entry: String) in
            KernelSpec(file: softmax ? TopKKernels.softmaxRows : TopKKernels.rows, entry: entry, defines: [
                "TOPK": k, "DTYPE": dtype.kernelCode, "ROWS_PER_ITEM": rowsPerItem, "WG_SIZE": 1,
            ])
        }
        let groupSize = gpu ? Self.groupSize(k: k, device: device, tuning: tuning) : 1
        let groupSpec = { (entry: String) in
            KernelSpec(file: TopKKernels.group, entry: entry,
                       defines: ["TOPK": k, "DTYPE": dtype.kernelCode, "WG_SIZE": groupSize])
        }
        shards = gpu
            ? RowGroups.shards(rows: shape.rows, cols: shape.cols, groupSize: groupSize, computeUnits: computeUnits,
                               groupsPerComputeUnit: tuning.softmax.gpuGroupsPerComputeUnit)
            : tuning.shardLayout(shape, computeUnits: computeUnits)
        guard let shards else {
            launches = [gpu
                ? KernelLaunch(spec: groupSpec(prefix + "_group"), grid: .linear(shape.rows * groupSize, groupSize: groupSize))
                : KernelLaunch(spec: rowSpec(prefix),
                               grid: .linear((shape.rows + rowsPerItem - 1) / rowsPerItem, groupSize: 1))]
            (candidateBytes, statsBytes) = (0, 0)
            return
        }
        let items = shape.rows * shards.shards
        launches = [
            gpu ? KernelLaunch(spec: groupSpec(prefix + "_group_shards"), grid: .linear(items * groupSize, groupSize: groupSize))
                : KernelLaunch(spec: rowSpec(prefix + "_shards"), grid: .linear(items, groupSize: 1)),
            KernelLaunch(spec: rowSpec(prefix + "_merge"), grid: .linear(shape.rows, groupSize: 1)),
        ]
        candidateBytes = items * k * 4
        statsBytes = items * 2 * 4
    }

    /// The GPU preset's group size for `k`: the tuned size within the device's limit,
    /// halved until the group's `__local` memory takes at most half the device's; at least
    /// 4 (the kernel gives a row's ≤ 3 unaligned head and tail columns one item each).
    static func groupSize(k: Int, device: OpenCLDevice, tuning: TuningParameters) -> Int {
        var size = max(4, RowGroups.groupSize(tuning.topK.gpuWorkGroupSize, device: device))
        while size > 4 && UInt64(localBytes(k: k, groupSize: size)) > device.localMemoryBytes / 2 { size /= 2 }
        return size
    }

    /// `topk/group.cl`'s `__local` bytes: a buffer of `2 * max(pow2(k), 4 * groupSize)`
    /// (value, column) pairs, an (m, d) pair per item, two counters.
    static func localBytes(k: Int, groupSize: Int) -> Int {
        var kp = 1
        while kp < k { kp *= 2 }
        return 2 * max(kp, 4 * groupSize) * 8 + groupSize * 8 + 8
    }
}
