/// Attention's kernel files (`Kernels/attention/`), named once so that a search finds
/// every user.
enum AttentionKernels {
    /// `attn_forward`, the CPU preset (`lib/gemm.h`'s tiles).
    static let forward = "attention/forward.cl"
    /// `attn_forward`, the GPU preset (`attention/flash.h`).
    static let forwardGPU = "attention/forward_gpu.cl"
    /// `attn_delta`, `attn_backward_query` and `attn_backward_kv` (one program: same defines).
    static let backward = "attention/backward.cl"
    /// The same three kernels, the GPU preset (`attention/flash.h`; dQ and dK/dV are built
    /// with their own tiles).
    static let backwardGPU = "attention/backward_gpu.cl"
}
