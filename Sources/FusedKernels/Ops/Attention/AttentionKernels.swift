/// Attention's kernel files (`Kernels/attention/`), named once so that a search finds
/// every user.
enum AttentionKernels {
    /// `attn_forward`.
    static let forward = "attention/forward.cl"
    /// `attn_delta`, `attn_backward_query` and `attn_backward_kv` (one program: same defines).
    static let backward = "attention/backward.cl"
}
