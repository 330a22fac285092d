import Foundation
import Testing
@testable import FusedKernels

/// When OpenCL cannot serve an op, the CPU path does and says so; strict selectors
/// turn that into an error.
@Suite struct FallbackTests {
    let shape = Shape(rows: 3, cols: 50)

    @Test func strictSelectorsFailWhenNothingMatches() throws {
        #expect(throws: FusedKernelsError.self) { _ = try Engine(device: "opencl:999") }
        if try Engine.devices().isEmpty {
            #expect(throws: FusedKernelsError.noOpenCLDevice(reason: "no OpenCL platform or device found")) {
                _ = try Engine(device: "opencl")
            }
        }
    }

    /// A copy of Kernels/ whose softmax kernels do not compile.
    static func brokenKernels() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fk-broken-\(UUID().uuidString)")
        let original = try KernelSources().directory
        try FileManager.default.copyItem(at: original, to: directory)
        let softmax = directory.appendingPathComponent("softmax")
        for file in try FileManager.default.contentsOfDirectory(atPath: softmax.path) where file.hasSuffix(".cl") {
            try "__kernel void softmax_block( this is not OpenCL C"
                .write(to: softmax.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func kernelThatFailsToBuildFallsBackToCPU(backend: TestBackend) throws {
        let directory = try Self.brokenKernels()
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = try Engine(device: backend.label.split(separator: " ").dropFirst().joined(separator: " "),
                                kernelsDirectory: directory)
        #expect(engine.backend != .cpu)
        let x = randomValues(shape.count, seed: 4)
        var y = [Float](repeating: poison, count: shape.count)
        let ran = try engine.softmax(x, shape: shape, into: &y)
        #expect(ran == .cpu)
        expectClose(y, NaiveSoftmax.forward(x, shape: shape, kind: .softmax),
                    rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "fallback after build failure")
        // Device tensors fall back too, and the result stays usable on the device.
        let tensor = try engine.softmax(try engine.tensor(x, shape: shape))
        expectClose(try tensor.toArray(), NaiveSoftmax.forward(x, shape: shape, kind: .softmax),
                    rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "device-tensor fallback")
    }

    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func strictSelectorReportsTheBuildLog(backend: TestBackend) throws {
        let directory = try Self.brokenKernels()
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = try Engine(device: backend.selector, kernelsDirectory: directory)
        let x = randomValues(shape.count, seed: 4)
        do {
            _ = try engine.softmax(x, shape: shape)
            Issue.record("a strict engine ran a kernel that cannot build")
        } catch let FusedKernelsError.buildFailed(file, _, options, log) {
            #expect(file.hasPrefix("softmax/"))
            #expect(options.contains("-DOUTPUT_MODE=0"))
            #expect(!log.isEmpty)
        }
    }

    /// Run with OCL_ICD_VENDORS=/nonexistent (see the Makefile): no platform at all.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FUSED_KERNELS_EXPECT_NO_OPENCL"] == "1"))
    func noPlatformMeansCPU() throws {
        #expect(try Engine.devices().isEmpty)
        let engine = try Engine(device: "auto")
        #expect(engine.backend == .cpu)
        #expect(engine.fallbackReason == "no OpenCL platform or device found")
        #expect(throws: FusedKernelsError.noOpenCLDevice(reason: "no OpenCL platform or device found")) {
            _ = try Engine(device: "opencl")
        }
        let x = randomValues(shape.count, seed: 6)
        expectClose(try engine.softmax(x, shape: shape, kind: .logSoftmax),
                    NaiveSoftmax.forward(x, shape: shape, kind: .logSoftmax),
                    rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "no-platform softmax")
    }
}
