/// The softmax family's kernel files (`Kernels/softmax/`), named once so that a search
/// finds every user of a file.
enum SoftmaxKernels {
    /// Whole rows per work-item, one file per algorithm (CPU preset).
    static let online = "softmax/online.cl"
    static let block = "softmax/block.cl"
    static let threePass = "softmax/three_pass.cl"
    static let twoPass = "softmax/two_pass.cl"
    /// Column shards per work-item and their ordered merge (CPU preset, few rows).
    static let shards = "softmax/shards.cl"
    /// A work-group segment per row, and a group per column shard (GPU preset).
    static let groupRows = "softmax/group_rows.cl"
    static let groupShards = "softmax/group_shards.cl"
    /// The backward: rows per work-item (CPU preset), a segment per row (GPU preset).
    static let backward = "softmax/backward.cl"
    static let groupBackward = "softmax/group_backward.cl"
}
