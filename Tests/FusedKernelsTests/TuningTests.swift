import Foundation
import Testing
@testable import FusedKernels

@Suite struct TuningTests {
    static let device = OpenCLDevice(index: 0, name: "Test Device", platformName: "Test Platform", vendor: "v",
                                     driverVersion: "1.0", deviceVersion: "OpenCL 3.0", computeUnits: 2,
                                     globalMemoryBytes: 1 << 30, localMemoryBytes: 1 << 16, maxWorkGroupSize: 256, isCPU: true,
                                     handleBits: 1, platformBits: 1)
    static let tuned = TuningParameters(softmaxShortRows: .init(rowsPerItem: 3, chunk: 2),
                                        softmaxLongRows: .init(rowsPerItem: 1, chunk: 4))

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

            try Data("{ not json".utf8).write(to: url)
            (parameters, warning) = TuningFile.load(for: Self.device, kernelsHash: "k", environment: environment)
            #expect(parameters == .defaults && warning?.contains("unreadable") == true, "corrupt file")
        }
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
        }
        #expect(throws: FusedKernelsError.self) {
            try engine.useTuning(TuningParameters(softmaxShortRows: .init(rowsPerItem: 0, chunk: 8),
                                                  softmaxLongRows: .init(rowsPerItem: 8, chunk: 8)))
        }
    }
}
