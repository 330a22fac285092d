import Testing
@testable import FusedKernels

/// Which layout a softmax forward gets: rows per work-item shrink, then rows split
/// into shards, as rows become too few for the compute units (here 2 × 4 items).
@Suite struct SoftmaxPlanTests {
    func plan(_ rows: Int, _ cols: Int, _ variant: SoftmaxVariant = .auto, output: SoftmaxOutput = .softmax,
              tuning: TuningParameters = .defaults, gpu: Bool = false) -> SoftmaxLayout {
        SoftmaxLayout.choose(output: output, shape: Shape(rows: rows, cols: cols), variant: variant,
                             device: TuningTests.device, tuning: tuning, gpu: gpu)
    }

    /// The GPU preset: a segment of about cols / 8 items (32...256) per row, whole groups
    /// per row once rows are long; a group per column shard (≥ 16 columns per item) when
    /// rows are fewer than 4 groups per compute unit.
    @Test func gpuPresetGroupsRows() {
        #expect([17, 256, 1000, 4096, 1 << 20].map { RowGroups(cols: $0, groupSize: 256).rowItems } == [32, 32, 128, 256, 256])
        #expect(RowGroups(cols: 100_000, groupSize: 64).rowItems == 64)
        #expect(RowGroups(cols: 17, groupSize: 64).grid(rows: 5) == .linear(192, groupSize: 64), "two rows per group")
        #expect(plan(4096, 4096, gpu: true) == .groupRows(RowGroups(cols: 4096, groupSize: 256)))
        #expect(plan(16, 1 << 20, gpu: true) == .groupRows(RowGroups(cols: 1 << 20, groupSize: 256)))
        #expect(plan(1, 1 << 20, gpu: true) == .groupShards(ShardLayout(cols: 1 << 20, shards: 8), groupSize: 256))
        #expect(plan(3, 20_000, gpu: true) == .groupShards(ShardLayout(cols: 20_000, shards: 3), groupSize: 256))
        #expect(plan(3, 8000, gpu: true) == .groupRows(RowGroups(cols: 8000, groupSize: 256)), "too short to split")
        #expect(plan(1, 1 << 20, .online, gpu: true) == .groupRows(RowGroups(cols: 1 << 20, groupSize: 256)))
        #expect(plan(5, 17, .split, gpu: true) == .groupShards(ShardLayout(cols: 17, shards: 2), groupSize: 256))
        var tuned = TuningParameters.defaults
        tuned.softmax.gpuWorkGroupSize = 1024
        #expect(plan(1, 1000, .online, tuning: tuned, gpu: true) == .groupRows(RowGroups(cols: 1000, groupSize: 256)),
                "the device's maximum bounds the tuned size")
    }

    @Test func autoUsesEveryComputeUnit() {
        let wholeRows = SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8)
        #expect(plan(4096, 4096) == .rows(.block, launch: wholeRows), "block kernel, 8 rows per item")
        #expect(plan(64, 1 << 20) == .rows(.online, launch: wholeRows), "8 items of 8 long rows")
        #expect(plan(8, 1 << 20) == .rows(.online, launch: .init(rowsPerItem: 1, chunk: 8)))
        #expect(plan(1, 1 << 20) == .shards(ShardLayout(cols: 1 << 20, shards: 8)))
        #expect(plan(3, 40_000) == .shards(ShardLayout(cols: 40_000, shards: 2)), "shards ≥ 16384 columns")
        #expect(plan(3, 20_000) == .rows(.online, launch: .init(rowsPerItem: 1, chunk: 8)), "too short to split")
        #expect(plan(1, 1 << 20, output: .statistics) == .shards(ShardLayout(cols: 1 << 20, shards: 8)), "statistics too")
        #expect(plan(1, 1 << 20, .online) == .rows(.online, launch: .init(rowsPerItem: 1, chunk: 8)))
    }

    @Test func measuredVariantsDriveAuto() {
        let tuned = TuningParameters(softmax: SoftmaxTuning(shortRows: .init(rowsPerItem: 8, chunk: 8),
                                                            longRows: .init(rowsPerItem: 8, chunk: 8),
                                                            shortRowsVariant: .threePass, longRowsVariant: .threePass))
        #expect(plan(4096, 4096, tuning: tuned) == .rows(.threePass, launch: .init(rowsPerItem: 8, chunk: 8)))
        #expect(plan(64, 1 << 20, tuning: tuned) == .rows(.threePass, launch: .init(rowsPerItem: 8, chunk: 8)))
        #expect(plan(64, 1 << 20, output: .logSumExp, tuning: tuned) == .rows(.online, launch: .init(rowsPerItem: 8, chunk: 8)))
        var twoPass = tuned
        twoPass.softmax.longRowsVariant = .twoPass
        #expect(!twoPass.isValid, "auto never picks the two-pass algorithm (limited range)")
    }

    @Test func shardLayoutsCoverTheRow() {
        for (cols, wanted) in [(1, 2), (17, 2), (40, 3), (1 << 20, 8), (1_000_003, 7)] {
            let layout = ShardLayout(cols: cols, shards: wanted)
            #expect(layout.shardColumns % 16 == 0 && layout.shards <= wanted)
            #expect((layout.shards - 1) * layout.shardColumns < cols && layout.shards * layout.shardColumns >= cols,
                    "\(cols) columns in \(layout)")
        }
        #expect(plan(1, 17, .split) == .shards(ShardLayout(cols: 17, shards: 2)))
    }

    /// The launches a plan makes: kernel files from the family's table, the output
    /// mode and masks as defines, whole groups, and scratch only for shards.
    @Test func plansListTheirLaunches() {
        let device = TuningTests.device
        let rows = SoftmaxPlan(output: .logSoftmax, shape: Shape(rows: 4096, cols: 4096), dtype: .float16,
                               hasAdditiveMask: true, hasKeepMask: false, variant: .auto, device: device,
                               tuning: .defaults, gpu: false)
        #expect(rows.launches.map(\.spec.file) == [SoftmaxKernels.block])
        #expect(rows.launches[0].spec.description == "softmax/block.cl:softmax_block -DBLOCK_MAX_COLS=16384 -DCHUNK=8 "
                    + "-DDTYPE=1 -DHAS_ADD_MASK=1 -DHAS_BOOL_MASK=0 -DOUTPUT_MODE=1 -DROWS_PER_ITEM=8 -DWG_SIZE=1")
        #expect(rows.launches[0].grid == .linear(512, groupSize: 1) && rows.scratchBytes == 0)

        let shards = SoftmaxPlan(output: .logSumExp, shape: Shape(rows: 1, cols: 1 << 20), dtype: .float32,
                                 hasAdditiveMask: false, hasKeepMask: false, variant: .auto, device: device,
                                 tuning: .defaults, gpu: false)
        #expect(shards.launches.map(\.spec.entry) == ["softmax_shard_stats", "softmax_shard_output"])
        #expect(shards.launches.map(\.grid) == [.linear(8, groupSize: 1), .linear(1, groupSize: 1)],
                "one item per row writes a per-row output")
        #expect(shards.scratchBytes == 8 * 2 * 4)

        let groups = SoftmaxPlan(output: .softmax, shape: Shape(rows: 5, cols: 17), dtype: .float32,
                                 hasAdditiveMask: false, hasKeepMask: true, variant: .auto, device: device,
                                 tuning: .defaults, gpu: true)
        #expect(groups.launches.map(\.spec.file) == [SoftmaxKernels.groupRows])
        #expect(groups.launches[0].grid == .linear(256, groupSize: 256), "eight rows of 32 items share a group")

        let groupShards = SoftmaxPlan(output: .softmax, shape: Shape(rows: 1, cols: 1 << 20), dtype: .float32,
                                      hasAdditiveMask: false, hasKeepMask: false, variant: .auto, device: device,
                                      tuning: .defaults, gpu: true)
        #expect(groupShards.launches.map(\.spec.file) == [SoftmaxKernels.groupShards, SoftmaxKernels.groupShards])
        #expect(groupShards.launches.map(\.grid) == [.linear(8 * 256, groupSize: 256), .linear(8 * 256, groupSize: 256)])
    }

    @Test func backwardPlans() {
        let cpu = SoftmaxBackwardPlan(kind: .logSoftmax, shape: Shape(rows: 100, cols: 1000), dtype: .float32,
                                      device: TuningTests.device, tuning: .defaults, gpu: false)
        #expect(cpu.launches.map(\.spec.file) == [SoftmaxKernels.backward] && cpu.rowItems == nil)
        #expect(cpu.launches[0].spec.defines.contains(.init(name: "LOG_SOFTMAX", value: "1")))
        let gpu = SoftmaxBackwardPlan(kind: .softmax, shape: Shape(rows: 100, cols: 1000), dtype: .float32,
                                      device: TuningTests.device, tuning: .defaults, gpu: true)
        #expect(gpu.launches.map(\.spec.file) == [SoftmaxKernels.groupBackward] && gpu.rowItems == 128)
        #expect(gpu.launches[0].grid == .linear(50 * 256, groupSize: 256), "two rows per group")
    }
}
