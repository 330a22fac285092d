/// Top-k's kernel files (`Kernels/topk/`), named once so that a search finds every user.
enum TopKKernels {
    /// Plain top-k, rows per work-item (CPU preset), with its shard and merge kernels.
    static let rows = "topk/topk.cl"
    /// Fused softmax + top-k, the same layouts.
    static let softmaxRows = "topk/softmax_topk.cl"
    /// Both, a work-group per row or row shard (GPU preset).
    static let group = "topk/group.cl"
}
