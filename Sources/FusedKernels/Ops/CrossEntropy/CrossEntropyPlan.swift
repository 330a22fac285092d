/// Cut cross-entropy's forward on an OpenCL device, on the matmul tiles of the preset:
/// `cce_forward` over (vocabulary split × token tile) groups, then `cce_statistics`
/// merges the splits per token and adds the target logit; `cce_loss` and `cce_reduce`
/// turn the statistics into the loss.
struct CrossEntropyPlan: KernelPlan, Equatable {
    /// Groups per compute unit the forward aims for (N 1024, D 1024, V 65536 on 2 cores:
    /// 0.89x the same run's matmul with 4 groups per unit, 0.95x with 32).
    static let groupsPerComputeUnit = 32
    /// Partial statistics per token and split stay under this many bytes.
    static let partialBytesLimit = 512 << 10

    let tiles: MatmulParameters
    /// Vocabulary splits of the forward, each merged per token by `cce_statistics`.
    let splits: Int
    /// Scratch: three floats per token and split.
    let partialBytes: Int
    let forward: KernelLaunch
    let statistics: KernelLaunch
    /// nil when only the statistics are asked for.
    let loss: KernelLaunch?
    /// nil without a loss, or for `reduction: .none`.
    let reduce: KernelLaunch?

    var launches: [KernelLaunch] { [forward, statistics] + [loss, reduce].compactMap { $0 } }

    /// What runs after the statistics: nothing, the per-token loss and log-sum-exp, or
    /// those and their sum or mean.
    enum Loss { case statisticsOnly, perToken, reduced }

    init(n: Int, columns: Int, dtype: DType, tiles p: MatmulParameters, loss steps: Loss, device: OpenCLDevice) {
        tiles = p
        let tokenTiles = (n + p.mwg - 1) / p.mwg
        let vocabularyTiles = (columns + p.nwg - 1) / p.nwg
        let wanted = (Self.groupsPerComputeUnit * device.computeUnits + tokenTiles - 1) / tokenTiles
        splits = max(1, min(vocabularyTiles, wanted, Self.partialBytesLimit / (12 * n)))
        partialBytes = n * splits * 3 * 4
        let rowGroup = crossEntropyRowGroup(device)
        forward = KernelLaunch(spec: crossEntropySpec(CrossEntropyKernels.forward, "cce_forward", dtype, p),
                               grid: Grid(global: [splits * p.ndimc, tokenTiles * p.mdimc], local: [p.ndimc, p.mdimc]))
        statistics = KernelLaunch(spec: crossEntropySpec(CrossEntropyKernels.forward, "cce_statistics", dtype, p,
                                                         groupSize: rowGroup),
                                  grid: .linear(n, groupSize: rowGroup))
        let lossSpec = { (entry: String) in
            KernelSpec(file: CrossEntropyKernels.loss, entry: entry, defines: ["WG_SIZE": rowGroup])
        }
        loss = steps == .statisticsOnly ? nil : KernelLaunch(spec: lossSpec("cce_loss"), grid: .linear(n, groupSize: rowGroup))
        reduce = steps == .reduced
            ? KernelLaunch(spec: lossSpec("cce_reduce"), grid: .linear(rowGroup, groupSize: rowGroup)) : nil
    }
}

/// Cut cross-entropy's backward on an OpenCL device, per vocabulary chunk: `cce_dlogits`
/// writes the chunk's logit gradient dZ (with the filter's block mask), matmul multiplies
/// it out (dE += dZ·C_chunk, dC_chunk = dZᵀ·E, skipping dead blocks), `cce_bias_grad`
/// sums dBias.
struct CrossEntropyBackwardPlan: KernelPlan, Equatable {
    /// Device bytes the dZ chunk may take (the chunk is at least one tile wide).
    static let chunkBytesLimit = 32 << 20

    let tiles: MatmulParameters
    let tokenTiles: Int
    /// Vocabulary columns per chunk, a whole number of tiles (the last chunk may be shorter).
    let chunk: Int
    let dtype: DType
    let hasBias: Bool
    /// The chunk's two products: dE += dZ·C_chunk (`[n, d]`, fp32) and dC_chunk = dZᵀ·E
    /// (`[chunk, d]`, the storage type), on the same tiles.
    let products: [MatmulPlan]
    private let rowGroup: Int

    init(n: Int, d: Int, columns: Int, dtype: DType, hasBias: Bool, tiles p: MatmulParameters, device: OpenCLDevice) {
        tiles = p
        tokenTiles = (n + p.mwg - 1) / p.mwg
        chunk = min((columns + p.nwg - 1) / p.nwg * p.nwg, max(p.nwg, Self.chunkBytesLimit / (4 * n) / p.nwg * p.nwg))
        self.dtype = dtype
        self.hasBias = hasBias
        rowGroup = crossEntropyRowGroup(device)
        products = [MatmulPlan(m: n, n: d, batch: 1, dtype: dtype, outputDType: .float32, parameters: p),
                    MatmulPlan(m: chunk, n: d, batch: 1, dtype: dtype, outputDType: dtype, parameters: p)]
    }

    /// `cce_dlogits` over a chunk of `columns` vocabulary columns.
    func dlogits(columns: Int) -> KernelLaunch {
        KernelLaunch(spec: crossEntropySpec(CrossEntropyKernels.backward, "cce_dlogits", dtype, tiles),
                     grid: Grid(global: [(columns + tiles.nwg - 1) / tiles.nwg * tiles.ndimc, tokenTiles * tiles.mdimc],
                                local: [tiles.ndimc, tiles.mdimc]))
    }

    /// `cce_bias_grad` over a chunk of `columns` columns (one item per column).
    func biasGradient(columns: Int) -> KernelLaunch {
        KernelLaunch(spec: crossEntropySpec(CrossEntropyKernels.backward, "cce_bias_grad", dtype, tiles,
                                            groupSize: rowGroup),
                     grid: .linear(columns, groupSize: rowGroup))
    }

    /// The first chunk's kernels (every chunk runs the same ones).
    var launches: [KernelLaunch] {
        [dlogits(columns: chunk)] + products.flatMap(\.launches) + (hasBias ? [biasGradient(columns: chunk)] : [])
    }

    /// Scratch of one chunk: dZ `[n, chunk]` (the storage type), the filter's block mask
    /// (one bool per tile) and the bias's partial sums (fp32, a row per token tile).
    func scratchShapes(n: Int) -> (dz: [Int], mask: [Int], biasPartials: [Int]?) {
        ([n, chunk], [tokenTiles, chunk / tiles.nwg], hasBias ? [tokenTiles, chunk] : nil)
    }
}

/// One item per token (or column) in the row-wise kernels: groups of 64 on GPUs, single
/// items on CPU devices.
private func crossEntropyRowGroup(_ device: OpenCLDevice) -> Int { device.isCPU ? 1 : 64 }

private func crossEntropySpec(_ file: String, _ entry: String, _ dtype: DType, _ p: MatmulParameters,
                              groupSize: Int = 1) -> KernelSpec {
    KernelSpec(file: file, entry: entry, defines: p.defines.merging(["DTYPE": dtype.kernelCode, "WG_SIZE": groupSize]) { $1 })
}
