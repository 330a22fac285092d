/// Flash attention on an OpenCL device, made of the matmul tiles (`lib/gemm.h`):
/// - forward: `attn_forward`, one group per (query tile, query head, batch);
/// - backward: `attn_delta` (softmax: Δ = rowsum(dO ∘ O)), then `attn_backward_query`
///   (dQ, one group per query tile) and `attn_backward_kv` (dK and dV, one group per key
///   tile of a key/value head, summing its query heads in order): every output tile
///   has one owner.
///
/// Tiles: CPU devices one item with a 96 × 128 score tile (12 × 32 micro-tiles of
/// 16-wide vectors, the matmul preset's; 96 rows ran B1 H8 L2048 D64 in 56–61 ms against
/// 61–66 with 48, interleaved), through `lib/gemm.h`. GPU devices: the forward is
/// `attention/forward_gpu.cl` on `FlashTiles` (FlashAttention-2's loop, no `lib/gemm.h`);
/// the backward still 16 × 16 items on a 32 × 32 `lib/gemm.h` tile in `__local` memory,
/// head-dimension block 16.
struct AttentionPlan: KernelPlan, Equatable {
    /// The `lib/gemm.h` tiles of the CPU kernels and of the GPU backward.
    let tiles: MatmulParameters
    /// D rounded up to whole micro-tile columns (and 16-wide vectors), for `tiles`.
    let paddedHead: Int
    /// The GPU forward's tiles (nil on the CPU preset).
    let flash: FlashTiles?
    /// The GPU backward's tiles, dQ then dK/dV (nil on the CPU preset, and where none fit:
    /// then the GPU backward runs `backward.cl` on `tiles`).
    let flashBackward: [FlashTiles]?
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
        let masks = call.additiveMask != nil || call.keepMask != nil || call.options.alibiSlopes != nil
        // attn_delta's group (WG_SIZE) is built into the backward's programs only; ATT_PASS
        // keeps each gradient kernel in a program of its own tiles (backward_gpu.cl)
        let flashDefines = { (f: FlashTiles) in
            f.defines.merging(["DTYPE": call.dtype.kernelCode, "ATT_SOFTMAX": call.isSoftmax ? 1 : 0,
                               "ATT_MASKS": masks ? 1 : 0]) { $1 }
                .merging(f.kernel == .forward ? [:]
                         : ["WG_SIZE": rowGroup, "ATT_PASS": f.kernel == .backwardQuery ? 1 : 2]) { $1 }
        }
        // one group of f.itemsPerGroup items per f.rows rows, head and batch
        let flashGrid = { (f: FlashTiles, rows: Int, heads: Int) in
            Grid(global: [(rows + f.rows - 1) / f.rows * f.itemsPerGroup, heads, call.batch],
                 local: [f.itemsPerGroup, 1, 1])
        }
        let budget = device.localMemoryBytes
        if gpu {
            let f = FlashTiles(.forward, d: call.d, softmax: call.isSoftmax, localBytes: budget)!
            flash = f
            forward = KernelLaunch(spec: KernelSpec(file: AttentionKernels.forwardGPU, entry: "attn_forward",
                                                    defines: flashDefines(f)),
                                   grid: flashGrid(f, call.lq, call.heads))
        } else {
            flash = nil
            forward = KernelLaunch(spec: KernelSpec(file: AttentionKernels.forward, entry: "attn_forward", defines: defines),
                                   grid: grid(call.lq, call.heads))
        }
        let rows = call.batch * call.heads * call.lq
        if gpu, let fq = FlashTiles(.backwardQuery, d: call.d, softmax: call.isSoftmax, localBytes: budget),
           let fkv = FlashTiles(.backwardKeyValue, d: call.d, softmax: call.isSoftmax, localBytes: budget) {
            flashBackward = [fq, fkv]
            let spec = { (f: FlashTiles, entry: String) in
                KernelSpec(file: AttentionKernels.backwardGPU, entry: entry, defines: flashDefines(f))
            }
            delta = call.isSoftmax ? KernelLaunch(spec: spec(fq, "attn_delta"), grid: .linear(rows, groupSize: rowGroup)) : nil
            backwardQuery = KernelLaunch(spec: spec(fq, "attn_backward_query"), grid: flashGrid(fq, call.lq, call.heads))
            backwardKeyValue = KernelLaunch(spec: spec(fkv, "attn_backward_kv"), grid: flashGrid(fkv, call.lk, call.kvHeads))
        } else {
            // the CPU preset, and the GPU preset where no FlashTiles fit (D > 128 on 64 KiB)
            flashBackward = nil
            let backwardSpec = { (entry: String) in KernelSpec(file: AttentionKernels.backward, entry: entry, defines: defines) }
            delta = call.isSoftmax ? KernelLaunch(spec: backwardSpec("attn_delta"), grid: .linear(rows, groupSize: rowGroup)) : nil
            backwardQuery = KernelLaunch(spec: backwardSpec("attn_backward_query"), grid: grid(call.lq, call.heads))
            backwardKeyValue = KernelLaunch(spec: backwardSpec("attn_backward_kv"), grid: grid(call.lk, call.kvHeads))
        }
    }
}

/// The tiles of the GPU kernels (`Kernels/attention/flash.h`): a group of
/// `itemsPerGroup` items owns `rows` rows (queries; keys for dK/dV) and walks the other
/// side `keys` at a time; an item owns `rowsPerItem` rows × 4 columns of a score tile and
/// the same rows × D/(keys/4) columns of each accumulator. Every operand tile lives in
/// `__local` memory as fp32 rows padded by 4 floats.
struct FlashTiles: Equatable {
    enum Kernel: Equatable { case forward, backwardQuery, backwardKeyValue }

    let kernel: Kernel
    /// ATT_BM, ATT_BN, ATT_RM.
    let rows: Int, keys: Int, rowsPerItem: Int
    /// ATT_DP: D rounded up to a multiple of `keys` (each of the keys/4 items of a row
    /// owns whole float4 columns of the accumulators).
    let paddedHead: Int
    let softmax: Bool

    init(_ kernel: Kernel, rows: Int, keys: Int, rowsPerItem: Int, d: Int, softmax: Bool) {
        (self.kernel, self.rows, self.keys, self.rowsPerItem, self.softmax) = (kernel, rows, keys, rowsPerItem, softmax)
        paddedHead = (d + keys - 1) / keys * keys
    }

    /// The first candidate whose `__local` memory fits the device and 64 KiB (so that a
    /// GPU of 64 KiB per compute unit runs it) and whose accumulators take at most 64
    /// floats an item; nil when none does (the backward at D > 128).
    /// - forward: 64 × 64 (4 rows an item, 256 items), 64 × 32, 32 × 32, 16 × 32 (2 rows);
    ///   D ≤ 64 gets 64 × 64, D ≤ 128 64 × 32, D ≤ 256 16 × 32;
    /// - dQ: 64 × 32 (2 rows an item), 32 × 16, 16 × 16 (1 row): D ≤ 64 64 × 32, D ≤ 128
    ///   32 × 16 (at 2 rows an item its 64 accumulators spilled on gfx1100);
    /// - dK, dV: 32 × 32, 32 × 16, 16 × 16 (1 row an item: two accumulators).
    init?(_ kernel: Kernel, d: Int, softmax: Bool, localBytes: UInt64) {
        let budget = min(localBytes, 65536)
        let shapes: [(Int, Int, Int)] = switch kernel {
        case .forward: [(64, 64, 4), (64, 32, 2), (32, 32, 2), (16, 32, 2)]
        case .backwardQuery: [(64, 32, 2), (32, 16, 1), (16, 16, 1)]
        case .backwardKeyValue: [(32, 32, 1), (32, 16, 1), (16, 16, 1)]
        }
        let candidates = shapes.map { FlashTiles(kernel, rows: $0.0, keys: $0.1, rowsPerItem: $0.2, d: d, softmax: softmax) }
        guard let f = candidates.first(where: { UInt64($0.localBytes) <= budget && $0.accumulatorFloats <= 64 })
            ?? (kernel == .forward ? candidates.last : nil) else { return nil }
        self = f
    }

    var itemsPerGroup: Int { rows / rowsPerItem * keys / 4 }

    /// An item's accumulator floats (O or dQ; dK and dV).
    var accumulatorFloats: Int { (kernel == .backwardKeyValue ? 2 : 1) * rowsPerItem * paddedHead / (keys / 4) }

    /// The kernel's `__local` arrays, fp32, rows padded by 4 floats:
    /// - forward: Q [rows], the K or V tile [keys] (D wide), Pᵀ [keys][rows] and, for
    ///   softmax, the row exchange [keys/4][rows];
    /// - dQ: Q, dO [rows], K, V [keys] (D wide), dSᵀ [keys][rows];
    /// - dK, dV: K, V [rows], Q, dO [keys] (D wide), Pᵀ, dSᵀ [keys][rows], lse and Δ [keys].
    var localBytes: Int {
        let wide = paddedHead + 4, narrow = rows + 4
        let floats = switch kernel {
        case .forward: (rows + keys) * wide + (keys + (softmax ? keys / 4 : 0)) * narrow
        case .backwardQuery: 2 * (rows + keys) * wide + keys * narrow
        case .backwardKeyValue: 2 * (rows + keys) * wide + 2 * keys * narrow + 2 * keys
        }
        return 4 * floats
    }

    var defines: [String: CustomStringConvertible] {
        ["ATT_BM": rows, "ATT_BN": keys, "ATT_RM": rowsPerItem, "ATT_DP": paddedHead]
    }
}
