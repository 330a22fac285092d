import Testing
@testable import FusedKernels

/// Top-k's launches: rows per item (CPU preset) or a group per row (GPU preset), and
/// column shards merged per row when rows are too few for the device.
@Suite struct TopKPlanTests {
    func plan(_ rows: Int, _ cols: Int, k: Int = 8, softmax: Bool = true, gpu: Bool) -> TopKPlan {
        TopKPlan(k: k, softmax: softmax, shape: Shape(rows: rows, cols: cols), dtype: .float32,
                 device: TuningTests.device, tuning: .defaults, gpu: gpu)
    }

    @Test func wholeRows() {
        let cpu = plan(4096, 4096, gpu: false)
        #expect(cpu.shards == nil && cpu.candidateBytes == 0)
        #expect(cpu.launches.map(\.spec.description) == [
            "topk/softmax_topk.cl:softmax_topk -DDTYPE=0 -DROWS_PER_ITEM=4 -DTOPK=8 -DWG_SIZE=1"])
        #expect(cpu.launches[0].grid == .linear(1024, groupSize: 1), "four rows per item (TopKTuning.rowsPerItem)")
        let gpu = plan(4096, 4096, softmax: false, gpu: true)
        #expect(gpu.launches.map(\.spec.file) == [TopKKernels.group] && gpu.launches[0].spec.entry == "topk_group")
        #expect(gpu.launches[0].grid == .linear(4096 * 128, groupSize: 128))
    }

    @Test func fewRowsAreShardedThenMerged() throws {
        for gpu in [false, true] {
            let p = plan(1, 1 << 20, gpu: gpu)
            let shards = try #require(p.shards)
            #expect(shards.shards == 8)
            #expect(p.launches.map(\.spec.entry) == [gpu ? "softmax_topk_group_shards" : "softmax_topk_shards",
                                                    "softmax_topk_merge"])
            #expect(p.launches[1].grid == .linear(1, groupSize: 1))
            #expect(p.candidateBytes == 8 * 8 * 4 && p.statsBytes == 8 * 2 * 4)
        }
    }

    /// The GPU group's candidate buffer (2 * max(pow2(k), 4 * group) pairs of 8 bytes) and
    /// its (m, d) pairs take at most half the local memory: 64 KiB holds every k with the
    /// tuned 128 items; 8 KiB halves the group until they fit.
    @Test func largeKShrinksTheGroup() {
        #expect(TopKPlan.localBytes(k: 8, groupSize: 128) == 2 * 512 * 8 + 128 * 8 + 8)
        #expect(TopKPlan.localBytes(k: 200, groupSize: 32) == 2 * 256 * 8 + 32 * 8 + 8)
        #expect(TopKPlan.groupSize(k: 8, device: TuningTests.device, tuning: .defaults) == 128)
        #expect(TopKPlan.groupSize(k: 256, device: TuningTests.device, tuning: .defaults) == 128)
        let small = OpenCLDevice(index: 0, name: "Small", platformName: "Test Platform", vendor: "v",
                                 driverVersion: "1.0", deviceVersion: "OpenCL 3.0", computeUnits: 2,
                                 globalMemoryBytes: 1 << 30, localMemoryBytes: 8 << 10, maxWorkGroupSize: 256,
                                 isCPU: false, handleBits: 1, platformBits: 1)
        #expect(TopKPlan.groupSize(k: 8, device: small, tuning: .defaults) == 32)
        #expect(TopKPlan.groupSize(k: 256, device: small, tuning: .defaults) == 4, "the 4 KiB buffer alone is half: the least group")
    }
}
