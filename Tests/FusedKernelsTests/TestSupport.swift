import Foundation
import Testing
@testable import FusedKernels

/// A backend under test: the CPU path or one OpenCL device.
struct TestBackend: CustomTestStringConvertible, Sendable {
    let selector: String
    var label: String
    /// Oclgrind interprets every work-item (~40 µs per element): keep its cases small.
    let isSimulator: Bool
    var computeUnits = 1
    /// What the ops' `auto` preset stands for on this backend's engines.
    var preset = KernelPreset.auto
    /// The GPU preset's work-group size (softmax family and top-k), when not the default.
    var gpuWorkGroupSize: Int?

    var testDescription: String { label }

    /// Elements per case this backend can afford.
    var elementBudget: Int { isSimulator ? 20_000 : 5_000_000 }

    func engine() throws -> Engine {
        let engine = try Engine(device: selector, preset: preset)
        if let gpuWorkGroupSize {
            var tuning = engine.tuning
            tuning.softmax.gpuWorkGroupSize = gpuWorkGroupSize
            tuning.topK.gpuWorkGroupSize = gpuWorkGroupSize
            try engine.useTuning(tuning)
        }
        return engine
    }

    /// The CPU path plus every OpenCL device found (none on a machine without OpenCL).
    static let all: [TestBackend] = {
        let devices = (try? Engine.devices()) ?? []
        return [TestBackend(selector: "cpu", label: "cpu", isSimulator: false)] + devices.map {
            TestBackend(selector: "opencl:\($0.index)", label: "opencl:\($0.index) \($0.name)",
                        isSimulator: $0.isSimulator, computeUnits: $0.computeUnits)
        }
    }()

    /// `all`, plus every OpenCL device again with the GPU preset forced (the softmax
    /// family's and top-k's work-group kernels) in groups of 64, which divide some of the
    /// suites' row lengths and not others; the softmax-family suites run on these.
    static let withGPUPreset: [TestBackend] = all + all.filter { $0.selector != "cpu" }.map {
        var backend = $0
        backend.label += " gpu-preset"
        backend.preset = .gpu
        backend.gpuWorkGroupSize = 64
        return backend
    }
}

/// One backend × shape case, so that a failure names both.
struct ShapeRun: CustomTestStringConvertible, Sendable {
    let backend: TestBackend
    let shape: Shape
    var testDescription: String { "\(backend.label) \(shape)" }

    /// Every backend (GPU preset included) with every shape of `shapes` (rows, cols)
    /// whose elements fit `budget(backend)` (Oclgrind's is small).
    static func all(_ shapes: [(Int, Int)], budget: (TestBackend) -> Int = { $0.elementBudget }) -> [ShapeRun] {
        TestBackend.withGPUPreset.flatMap { backend in
            shapes.filter { $0.0 * $0.1 <= budget(backend) }.map {
                ShapeRun(backend: backend, shape: Shape(rows: $0.0, cols: $0.1))
            }
        }
    }
}

/// A value no kernel produces: outputs are pre-filled with it so unwritten elements fail.
let poison = Float(bitPattern: 0xFF7F_DEAD)

/// Deterministic pseudo-random values in [lo, hi).
func randomValues(_ count: Int, seed: UInt64, in range: ClosedRange<Float> = -6 ... 6) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0 ..< count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return range.lowerBound + Float(state >> 40) / Float(1 << 24) * (range.upperBound - range.lowerBound)
    }
}

/// Checks `actual` against a Double reference element by element:
/// |a − e| ≤ atol + rtol·|e|; NaN must meet NaN and ±inf the same infinity.
func expectClose(_ actual: [Float], _ expected: [Double], rtol: Double, atol: Double,
                 _ context: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(context()): count", sourceLocation: sourceLocation)
    var failures = 0
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        let ok: Bool
        if e.isNaN { ok = a.isNaN }
        else if e.isInfinite { ok = Double(a) == e }
        else { ok = a.isFinite && abs(Double(a) - e) <= atol + rtol * abs(e) }
        if !ok {
            failures += 1
            if failures <= 3 {
                Issue.record("\(context()): element \(index) is \(a), expected \(e)", sourceLocation: sourceLocation)
            }
        }
    }
    if failures > 3 {
        Issue.record("\(context()): \(failures) elements out of tolerance in all", sourceLocation: sourceLocation)
    }
}

/// fp32 tolerances of DESIGN.md: relative 1e-5, absolute 1e-6 (probabilities are ≤ 1,
/// log-probabilities are compared with a floor of 1e-5·(1 + |e|)).
let fp32RelativeTolerance = 1e-5
let fp32AbsoluteTolerance = 1e-6
