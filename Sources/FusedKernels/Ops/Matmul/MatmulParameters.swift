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

    /// A tile set; ``isValid`` tells whether the kernel accepts it.
    public init(mwg: Int, nwg: Int, kwg: Int, mdimc: Int, ndimc: Int, vwn: Int, mr: Int, nr: Int) {
        (self.mwg, self.nwg, self.kwg, self.mdimc, self.ndimc, self.vwn, self.mr, self.nr) =
            (mwg, nwg, kwg, mdimc, ndimc, vwn, mr, nr)
    }

    /// CPU devices (measured on PoCL pthread, 2-core Zen 4): one item per group, a
    /// 12 × 32 micro-tile (24 zmm accumulators), A/B blocks packed in private memory.
    public static let cpu = MatmulParameters(mwg: 96, nwg: 256, kwg: 256, mdimc: 1, ndimc: 1, vwn: 16, mr: 12, nr: 32)
    /// GPU devices: 16 × 16 cooperating items, 64 × 64 tiles staged in __local memory by
    /// coalesced loads, 4 × 4 results per item (speed not measured here).
    public static let gpu = MatmulParameters(mwg: 64, nwg: 64, kwg: 16, mdimc: 16, ndimc: 16, vwn: 4, mr: 4, nr: 4)

    /// The eight values under their kernel names, e.g. `MWG 64 NWG 64 KWG 16 …`.
    public var description: String {
        "MWG \(mwg) NWG \(nwg) KWG \(kwg) MDIMC \(mdimc) NDIMC \(ndimc) VWN \(vwn) MR \(mr) NR \(nr)"
    }

    var defines: [String: CustomStringConvertible] {
        ["MWG": mwg, "NWG": nwg, "KWG": kwg, "MDIMC": mdimc, "NDIMC": ndimc, "VWN": vwn, "MR": mr, "NR": nr]
    }

    /// Items cooperate (and stage tiles in __local memory) when a group has several.
    var workGroupSize: Int { mdimc * ndimc }

    /// The divisibility rules the kernel checks with #error, so that a bad set is a
    /// typed error here rather than a build failure.
    public var isValid: Bool {
        let positive = [mwg, nwg, kwg, mdimc, ndimc, vwn, mr, nr].allSatisfy { $0 >= 1 }
        guard positive, mwg % mdimc == 0, nwg % ndimc == 0, [1, 2, 4, 8, 16].contains(vwn) else { return false }
        let (mwi, nwi) = (mwg / mdimc, nwg / ndimc)
        let oneItem = workGroupSize == 1 ? mwg % 16 == 0 && nwg % 16 == 0 && kwg % 16 == 0 : true
        return mwi % mr == 0 && nwi % nr == 0 && nr % vwn == 0 && oneItem && workGroupSize <= 1024
    }
}
