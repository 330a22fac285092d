/// How the GPU preset of the softmax family and top-k lays rows on work-groups: a
/// segment of `rowItems` work-items (a power of two dividing `groupSize`) per row, so
/// that short rows share a group and a long row fills one; adjacent items read adjacent
/// columns (`Kernels/softmax/group.h`).
struct RowGroups: Equatable {
    let groupSize: Int
    let rowItems: Int

    /// About eight columns per item, at least 32 items (a GPU's SIMD width) and at most
    /// the group.
    init(cols: Int, groupSize: Int) {
        self.groupSize = groupSize
        let wanted = (cols + 7) / 8
        var items = min(32, groupSize)
        while items < wanted && items < groupSize { items *= 2 }
        rowItems = items
    }

    var rowsPerGroup: Int { groupSize / rowItems }

    /// The launch for `rows` rows: whole groups.
    func grid(rows: Int) -> Grid { .linear((rows + rowsPerGroup - 1) / rowsPerGroup * groupSize, groupSize: groupSize) }

    /// A tuned GPU group size within `device`'s limit (rounded down to a power of two).
    static func groupSize(_ tuned: Int, device: OpenCLDevice) -> Int {
        var size = 1
        while size * 2 <= min(tuned, device.maxWorkGroupSize) { size *= 2 }
        return max(2, size)
    }

    /// Column shards of a group each when `rows` rows give fewer groups than
    /// `groupsPerComputeUnit` per compute unit; each shard keeps at least 16 columns per
    /// item (so only rows that fill a group are cut). Nil when the rows fill the device
    /// or are too short to cut.
    static func shards(rows: Int, cols: Int, groupSize: Int, computeUnits: Int, groupsPerComputeUnit: Int)
        -> ShardLayout? {
        let wanted = computeUnits * groupsPerComputeUnit
        guard rows < wanted else { return nil }
        let shards = min((wanted + rows - 1) / rows, cols / (16 * groupSize))
        return shards > 1 ? ShardLayout(cols: cols, shards: shards) : nil
    }
}
