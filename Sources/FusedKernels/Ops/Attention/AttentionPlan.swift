/// Flash attention on an OpenCL device, made of the matmul tiles (`lib/gemm.h`):
/// - forward: `attn_forward`, one group per (query tile, query head, batch);
/// - backward: `attn_delta` (softmax: Δ = rowsum(dO ∘ O)), then `attn_backward_query`
///   (dQ, one group per query tile) and `attn_backward_kv` (dK and dV, one group per key
///   tile of a key/value head, summing its query heads in order): every output tile
///   has one owner.
///
/// Tiles: CPU devices one item with a 96 × 128 score tile (12 × 32 micro-tiles of
/// 16-wide vectors, the matmul preset's; 96 rows ran B1 H8 L2048 D64 in 56–61 ms against
/// 61–66 with 48, interleaved), GPU devices 16 × 16 items on a 32 × 32 tile in `__local`
/// memory. The head-dimension block is D padded (CPU: one block) or 16 (GPU).
struct AttentionPlan: KernelPlan, Equatable {
    let tiles: MatmulParameters
    /// D rounded up to whole micro-tile columns (and 16-wide vectors).
    let paddedHead: Int
    let forward: KernelLaunch
    /// nil for sigmoid (no Δ).
    let delta: KernelLaunch?
    let backwardQuery: KernelLaunch
    let backwardKeyValue: KernelLaunch
    /// Whether this plan is for the backward (its launches are the backward's).
    let isBackward: Bool

    var launches: [KernelLaunch] {
        isBackward ? (delta.map { [$0] } ?? []) + [backwardQuery, backwardKeyValue] : [forward]
    }

    init(_ call: AttentionCall, backward: Bool, device: OpenCLDevice, gpu: Bool) {
        var p = gpu ? MatmulParameters(mwg: 32, nwg: 32, kwg: 16, mdimc: 16, ndimc: 16, vwn: 2, mr: 2, nr: 2)
            : MatmulParameters(mwg: 96, nwg: 128, kwg: 0, mdimc: 1, ndimc: 1, vwn: 16, mr: 12, nr: 32)
        let unit = max(16, p.nr * p.ndimc)
        paddedHead = (call.d + unit - 1) / unit * unit
        if !gpu { p.kwg = paddedHead }
        tiles = p
        isBackward = backward
        // one item per row either way in attn_delta, 64 to a group on GPUs
        let rowGroup = device.isCPU ? 1 : 64
        let defines = p.defines.merging([
            "DTYPE": call.dtype.kernelCode, "ATT_DP": paddedHead, "ATT_SOFTMAX": call.isSoftmax ? 1 : 0, "WG_SIZE": rowGroup,
        ]) { $1 }
        // one group per tile of `rows` rows, head and batch
        let grid = { (rows: Int, heads: Int) in
            Grid(global: [(rows + p.mwg - 1) / p.mwg * p.ndimc, heads * p.mdimc, call.batch], local: [p.ndimc, p.mdimc, 1])
        }
        forward = KernelLaunch(spec: KernelSpec(file: AttentionKernels.forward, entry: "attn_forward", defines: defines),
                               grid: grid(call.lq, call.heads))
        let backwardSpec = { (entry: String) in KernelSpec(file: AttentionKernels.backward, entry: entry, defines: defines) }
        delta = call.isSoftmax ? KernelLaunch(spec: backwardSpec("attn_delta"),
                                              grid: .linear(call.batch * call.heads * call.lq, groupSize: rowGroup)) : nil
        backwardQuery = KernelLaunch(spec: backwardSpec("attn_backward_query"), grid: grid(call.lq, call.heads))
        backwardKeyValue = KernelLaunch(spec: backwardSpec("attn_backward_kv"), grid: grid(call.lk, call.kvHeads))
    }
}
