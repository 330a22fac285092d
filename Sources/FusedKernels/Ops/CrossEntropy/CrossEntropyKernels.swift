/// Cut cross-entropy's kernel files (`Kernels/cce/`), named once so that a search finds
/// every user.
enum CrossEntropyKernels {
    /// `cce_forward` (partial (m, d) per vocabulary split) and `cce_statistics` (merged per token).
    static let forward = "cce/forward.cl"
    /// `cce_loss` and `cce_reduce`.
    static let loss = "cce/loss.cl"
    /// `cce_dlogits` (a chunk's dZ and the filter's block mask) and `cce_bias_grad`.
    static let backward = "cce/backward.cl"
}
