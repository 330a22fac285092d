/// The tile parameters of `Kernels/matmul/matmul.cl` (CLBlast's naming): a work-group
/// computes an `mwg` × `nwg` tile of C in k-blocks of `kwg`, with `mdimc` × `ndimc`
/// work-items, each sweeping `mr` × `nr` register micro-tiles of `vwn`-wide vectors
/// over its (mwg/mdimc) × (nwg/ndimc) share.
public struct MatmulParameters: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Rows of C per work-group tile (`MWG`).
    public var mwg: Int
    /// Columns of C per work-group tile (`NWG`).
    public var nwg: Int
    /// The k-block: inner-dimension elements per step (`KWG`).
    public var kwg: Int
    /// Work-items along the tile's rows (`MDIMC`).
    public var mdimc: Int
    /// Work-items along the tile's columns (`NDIMC`).
    public var ndimc: Int
    /// Vector width along n: 1, 2, 4, 8 or 16 (`VWN`).
    public var vwn: Int
    /// Rows of a register micro-tile (`MR`).
    public var mr: Int
    /// Columns of a register micro-tile (`NR`), a multiple of `vwn`.
    public var nr: Int
    /// Width of the A vectors an item reads from `__local` memory (`VWM`: 1, 2, 4 or 8,
    /// dividing mwg/mdimc); cooperating groups only. nil: the kernel's default, the
    /// largest of 4, 2, 1 dividing mwg/mdimc.
    public var vwm: Int?

    /// A tile set; ``isValid`` tells whether the kernel accepts it.
    public init(mwg: Int, nwg: Int, kwg: Int, mdimc: Int, ndimc: Int, vwn: Int, mr: Int, nr: Int, vwm: Int? = nil) {
        (self.mwg, self.nwg, self.kwg, self.mdimc, self.ndimc, self.vwn, self.mr, self.nr, self.vwm) =
            (mwg, nwg, kwg, mdimc, ndimc, vwn, mr, nr, vwm)
    }

    /// CPU devices (measured on PoCL pthread, 2-core Zen 4): one item per group, a
    /// 12 × 32 micro-tile (24 zmm accumulators), A/B blocks packed in private memory.
    public static let cpu = MatmulParameters(mwg: 96, nwg: 256, kwg: 256, mdimc: 1, ndimc: 1, vwn: 16, mr: 12, nr: 32)
    /// GPU devices: 8 × 16 cooperating items, 64 × 64 tiles staged in __local memory by
    /// 16-byte coalesced loads (swizzled, conflict-free), 8 × 4 results per item in
    /// registers fed by float4 `__local` reads (3 reads per 32 FMAs), the next k-block
    /// prefetched into registers: 117 VGPRs, 4 waves/SIMD on gfx90a (Benchmarks/NOTES.md;
    /// speed not measured here).
    public static let gpu = MatmulParameters(mwg: 64, nwg: 64, kwg: 16, mdimc: 8, ndimc: 16, vwn: 4, mr: 8, nr: 4)

    /// The eight values under their kernel names, e.g. `MWG 64 NWG 64 KWG 16 …`.
    public var description: String {
        "MWG \(mwg) NWG \(nwg) KWG \(kwg) MDIMC \(mdimc) NDIMC \(ndimc) VWN \(vwn) MR \(mr) NR \(nr)"
            + (vwm.map { " VWM \($0)" } ?? "")
    }

    var defines: [String: CustomStringConvertible] {
        var d: [String: CustomStringConvertible] = ["MWG": mwg, "NWG": nwg, "KWG": kwg, "MDIMC": mdimc, "NDIMC": ndimc,
                                                    "VWN": vwn, "MR": mr, "NR": nr]
        if let vwm { d["VWM"] = vwm }
        return d
    }

    /// Items cooperate (and stage tiles in __local memory) when a group has several.
    var workGroupSize: Int { mdimc * ndimc }

    /// The divisibility rules the kernel checks with #error, so that a bad set is a
    /// typed error here rather than a build failure.
    public var isValid: Bool {
        let positive = [mwg, nwg, kwg, mdimc, ndimc, vwn, mr, nr].allSatisfy { $0 >= 1 }
        guard positive, mwg % mdimc == 0, nwg % ndimc == 0, [1, 2, 4, 8, 16].contains(vwn) else { return false }
        let (mwi, nwi) = (mwg / mdimc, nwg / ndimc)
        // one item: 16-wide packing; cooperating items: 4-wide global loads (gemm_gpu.h)
        let oneItem = workGroupSize == 1 ? mwg % 16 == 0 && nwg % 16 == 0 && kwg % 16 == 0
            : mwg % 4 == 0 && nwg % 4 == 0 && kwg % 4 == 0
        let vectorA = vwm.map { [1, 2, 4, 8].contains($0) && mwi % $0 == 0 && workGroupSize > 1 } ?? true
        return mwi % mr == 0 && nwi % nr == 0 && nr % vwn == 0 && oneItem && vectorA && workGroupSize <= 1024
    }

    /// The GPU search space of `kernel-bench tune` (CLBlast's xgemm parameters: MWG, NWG,
    /// KWG, MDIMC, NDIMC, VWM, VWN; the `__local` tiles need no padding parameter, their
    /// bank spread is an XOR swizzle), every item holding its whole mwg/mdimc × nwg/ndimc
    /// share in registers (mr, nr = that share). Constraints checked before anything is
    /// built: ``isValid``; 64 to 256 items per group, within `maxWorkGroupSize`; 8 to 64
    /// results per item and at most 16 prefetched elements per item (the register
    /// budget of 4 waves/SIMD on gfx90a: ≤ 128 VGPRs); mwg/mdimc and nwg/ndimc ≥ the
    /// vector widths; the A and B tiles, KWG·(MWG + NWG) floats, within
    /// `localMemoryBytes`.
    public static func gpuSearchSpace(maxWorkGroupSize: Int, localMemoryBytes: UInt64) -> [MatmulParameters] {
        var grid: [MatmulParameters] = []
        for mwg in [32, 64, 128] {
            for nwg in [32, 64, 128] {
                for kwg in [16, 32] {
                    for mdimc in [8, 16, 32] {
                        for ndimc in [8, 16, 32] {
                            for vwm in [2, 4] {
                                for vwn in [2, 4] {
                                    guard mwg % mdimc == 0, nwg % ndimc == 0 else { continue }
                                    let (mwi, nwi, items) = (mwg / mdimc, nwg / ndimc, mdimc * ndimc)
                                    let p = MatmulParameters(mwg: mwg, nwg: nwg, kwg: kwg, mdimc: mdimc, ndimc: ndimc,
                                                             vwn: vwn, mr: mwi, nr: nwi, vwm: vwm)
                                    guard p.isValid, (64 ... min(256, maxWorkGroupSize)).contains(items),
                                          (8 ... 64).contains(mwi * nwi), mwi >= vwm, nwi >= vwn,
                                          kwg * (mwg + nwg) <= 16 * items,
                                          UInt64(kwg * (mwg + nwg) * 4) <= localMemoryBytes else { continue }
                                    grid.append(p)
                                }
                            }
                        }
                    }
                }
            }
        }
        return grid
    }
}
