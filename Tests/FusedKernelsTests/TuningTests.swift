import Foundation
import Testing
@testable import FusedKernels

@Suite struct TuningTests {
    static let device = OpenCLDevice(index: 0, name: "Test Device", platformName: "Test Platform", vendor: "v",
                                     driverVersion: "1.0", deviceVersion: "OpenCL 3.0", computeUnits: 2,
                                     globalMemoryBytes: 1 << 30, localMemoryBytes: 1 << 16, maxWorkGroupSize: 256, isCPU: true,
                                     handleBits: 1, platformBits: 1)
    static let tuned = TuningParameters(softmaxShortRows: .init(rowsPerItem: 3, chunk: 2, workGroupSize: 4),
                                        softmaxLongRows: .init(rowsPerItem: 1, chunk: 4, workGroupSize: 2),
                                        softmaxShortRowsVariant: .threePass, softmaxLongRowsVariant: .online,
                                        itemsPerComputeUnit: 2, minimumShardColumns: 4096, topKRowsPerItem: 3)

    func withCacheDirectory(_ body: ([String: String], URL) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fk-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let environment = ["FUSED_KERNELS_CACHE_DIR": root.path]
        try body(environment, TuningFile.url(device: Self.device.name, platform: Self.device.platformName,
                                             environment: environment))
    }

    func file(driver: String = "1.0", kernels: String = "k", parameters: TuningParameters = tuned) -> TuningFile {
        TuningFile(format: TuningFile.currentFormat, device: Self.device.name, platform: Self.device.platformName,
                   driverVersion: driver, kernelsHash: kernels, parameters: parameters)
    }

    @Test func storedParametersAreUsedAndBadFilesIgnoredWithAWarning() throws {
        try withCacheDirectory { environment, url in
            var (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == .defaults && warning == nil, "no file: defaults, silently")

            _ = try file().save(environment: environment)
            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == Self.tuned && warning == nil)

            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "other", environment: environment)
            #expect(parameters == .defaults && warning?.contains("stale") == true, "kernels changed")

            _ = try file(driver: "0.9").save(environment: environment)
            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == .defaults && warning?.contains("stale") == true, "other driver")

            _ = try file(parameters: .init(softmaxShortRows: .init(rowsPerItem: 0, chunk: 3),
                                           softmaxLongRows: .init(rowsPerItem: 1, chunk: 1))).save(environment: environment)
            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == .defaults && warning?.contains("unreadable") == true, "out-of-range values")

            _ = try file(parameters: .init(softmaxShortRows: .init(rowsPerItem: 1, chunk: 8, workGroupSize: 3),
                                           softmaxLongRows: .init(rowsPerItem: 1, chunk: 8))).save(environment: environment)
            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == .defaults && warning?.contains("unreadable") == true, "work-group size not a power of two")

            try Data("{ not json".utf8).write(to: url)
            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == .defaults && warning?.contains("unreadable") == true, "corrupt file")
        }
    }

    /// The kernels are built for the work-group size they are launched with, over whole
    /// work-groups (OpenCL 1.2 devices reject a partial one).
    @Test func workGroupSizeShapesTheLaunch() {
        let launch = SoftmaxLaunchParameters(rowsPerItem: 3, chunk: 2, workGroupSize: 4)
        #expect(launch.defines["WG_SIZE"]?.description == "4")
        #expect(Grid.linear(launch.items(rows: 7), groupSize: 4) == Grid(global: [4], local: [4]))
        #expect(Grid.linear(8, groupSize: 4).global == [8] && Grid.linear(9, groupSize: 4).global == [12])
    }

    /// Any valid launch parameters give the same results.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func nonDefaultParametersStayCorrect(backend: TestBackend) throws {
        let engine = try backend.engine()
        try engine.useTuning(Self.tuned)
        #expect(engine.tuning == Self.tuned)
        for (rows, cols) in [(7, 1000), (2, 20_000)] where rows * cols <= backend.elementBudget * 2 {
            let shape = Shape(rows: rows, cols: cols)
            let x = randomValues(shape.count, seed: UInt64(cols))
            for kind in SoftmaxKind.allCases {
                expectClose(try engine.softmax(x, shape: shape, kind: kind), NaiveSoftmax.forward(x, shape: shape, kind: kind),
                            rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) \(kind) \(shape)")
            }
            let top = try engine.softmaxTopK(x, shape: shape, k: 3)
            #expect(top.indices == (try Engine(device: "cpu").softmaxTopK(x, shape: shape, k: 3).indices))
            // the backward is launched with the same work-group sizes
            let y = try engine.softmax(x, shape: shape)
            let dy = randomValues(shape.count, seed: 3, in: -1 ... 1)
            expectClose(try engine.softmaxBackward(output: y, gradient: dy, shape: shape),
                        NaiveSoftmax.backward(y: y, dy: dy, shape: shape, kind: .softmax, scale: 1),
                        rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) backward \(shape)")
        }
        #expect(throws: FusedKernelsError.self) {
            try engine.useTuning(TuningParameters(softmaxShortRows: .init(rowsPerItem: 0, chunk: 8),
                                                  softmaxLongRows: .init(rowsPerItem: 8, chunk: 8)))
        }
    }
}

/// Which layout a softmax forward gets: rows per work-item shrink, then rows split
/// into shards, as rows become too few for the compute units (here 2 × 4 items).
@Suite struct SoftmaxPlanTests {
    func plan(_ rows: Int, _ cols: Int, _ variant: SoftmaxVariant = .auto, kind: SoftmaxKind? = .softmax,
              tuning: TuningParameters = .defaults) -> SoftmaxPlan {
        SoftmaxPlan.choose(kind: kind, shape: Shape(rows: rows, cols: cols), variant: variant,
                           device: TuningTests.device, tuning: tuning)
    }

    @Test func autoUsesEveryComputeUnit() {
        let wholeRows = SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8)
        #expect(plan(4096, 4096) == .rows(.block, launch: wholeRows), "block kernel, 8 rows per item")
        #expect(plan(64, 1 << 20) == .rows(.online, launch: wholeRows), "8 items of 8 long rows")
        #expect(plan(8, 1 << 20) == .rows(.online, launch: .init(rowsPerItem: 1, chunk: 8)))
        #expect(plan(1, 1 << 20) == .shards(ShardLayout(cols: 1 << 20, shards: 8)))
        #expect(plan(3, 40_000) == .shards(ShardLayout(cols: 40_000, shards: 2)), "shards ≥ 16384 columns")
        #expect(plan(3, 20_000) == .rows(.online, launch: .init(rowsPerItem: 1, chunk: 8)), "too short to split")
        #expect(plan(1, 1 << 20, kind: nil) == .shards(ShardLayout(cols: 1 << 20, shards: 8)), "statistics too")
        #expect(plan(1, 1 << 20, .online) == .rows(.online, launch: .init(rowsPerItem: 1, chunk: 8)))
    }

    @Test func measuredVariantsDriveAuto() {
        let tuned = TuningParameters(softmaxShortRows: .init(rowsPerItem: 8, chunk: 8),
                                     softmaxLongRows: .init(rowsPerItem: 8, chunk: 8),
                                     softmaxShortRowsVariant: .threePass, softmaxLongRowsVariant: .threePass)
        #expect(plan(4096, 4096, tuning: tuned) == .rows(.threePass, launch: .init(rowsPerItem: 8, chunk: 8)))
        #expect(plan(64, 1 << 20, tuning: tuned) == .rows(.threePass, launch: .init(rowsPerItem: 8, chunk: 8)))
        #expect(plan(64, 1 << 20, kind: .logSumExp, tuning: tuned) == .rows(.online, launch: .init(rowsPerItem: 8, chunk: 8)))
        var twoPass = tuned
        twoPass.softmaxLongRowsVariant = .twoPass
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
}
