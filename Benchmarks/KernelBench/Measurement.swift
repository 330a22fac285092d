import ArgumentParser
import Foundation
import FusedKernels

/// Median and minimum of repeated timings, and the warm-up call apart, in milliseconds.
struct Timings {
    let samples: [Double]
    /// Wall-clock time of the first call: kernel builds (or cache loads) included.
    let firstCall: Double
    /// The kernel specs the measured body launched, in order, each once: the label a
    /// device measurement is filed under (empty on the CPU path).
    let kernels: [String]

    var median: Double {
        let sorted = samples.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    var min: Double { samples.min() ?? .nan }

    /// The nearest-rank percentile of the timed runs.
    func percentile(_ p: Double) -> Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }
}

/// Times `body` `repeat` times after one warm-up call (which also compiles, and is
/// reported apart): device time from OpenCL profiling events on a device, a monotonic
/// clock on the CPU path.
func measure(_ engine: Engine, repeat count: Int, _ body: () throws -> Void) throws -> Timings {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    let firstCall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    var samples: [Double] = []
    var kernels: [String] = []
    for _ in 0 ..< count {
        if case .cpu = engine.backend {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        } else {
            let timings = try engine.profile(body)
            for timing in timings where !kernels.contains(timing.spec.description) { kernels.append(timing.spec.description) }
            samples.append(timings.reduce(0) { $0 + $1.milliseconds })
        }
    }
    return Timings(samples: samples, firstCall: firstCall, kernels: kernels)
}

/// max |a − b| / |b| over all elements, |b| floored at the smallest normal number of the
/// storage type (below it, spacing is absolute); equal non-finite values count as exact.
func maxRelativeError(_ actual: [Float], _ expected: [Float], dtype: DType = .float32) -> Double {
    let floor = dtype == .float16 ? Float(Float16.leastNormalMagnitude) : Float.leastNormalMagnitude
    var worst = 0.0
    for (a, b) in zip(actual, expected) {
        if a == b || (a.isNaN && b.isNaN) { continue }
        let error = Double(abs(a - b)) / Double(max(abs(b), floor))
        worst = max(worst, error.isNaN ? .infinity : error)
    }
    return worst
}

/// Deterministic inputs in [−8, 8): a 64-bit LCG, fast enough for 10^8 elements.
func benchmarkInput(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [Float] {
    var state = seed
    return (0 ..< count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 24) * 16 - 8
    }
}

/// `--device`'s help, the same for every measuring subcommand.
let deviceHelp: ArgumentHelp = "cpu, opencl, opencl:N or a device-name substring; default: every device and the CPU path."

/// `--preset`'s help, the same for every family that has one.
let presetHelp: ArgumentHelp = "Kernel shape on OpenCL: auto (by device type), cpu or gpu."

/// The engines a run covers: `--device` if given, else every OpenCL device that is not
/// a simulator (Oclgrind interprets each work-item: minutes per case) plus the CPU path.
func benchmarkEngines(_ selector: String?) throws -> [Engine] {
    if let selector { return [try Engine(device: selector)] }
    let devices = try Engine.devices().filter { !$0.isSimulator }
    return try devices.map { try Engine(device: "opencl:\($0.index)") } + [try Engine(device: "cpu")]
}

/// Copy bandwidth of `x` (bytes read + written, per median run): with streaming stores
/// and with plain stores; `best` is the roofline a memory-bound op is judged against.
func copyBandwidth(_ engine: Engine, _ x: Tensor, into y: Tensor,
                   repeat count: Int) throws -> (best: Double, plain: Double) {
    let bytes = 2 * Double(x.count * x.dtype.byteCount)
    let streaming = try measure(engine, repeat: count) { try engine.copy(x, into: y, streamingStores: true) }
    let plain = try measure(engine, repeat: count) { try engine.copy(x, into: y, streamingStores: false) }
    let plainGBps = bytes / plain.median / 1e6
    return (best: max(bytes / streaming.median / 1e6, plainGBps), plain: plainGBps)
}

/// The short form of a kernel spec for a human line: its file and entry point.
func kernelLabel(_ spec: String) -> String { String(spec.split(separator: " ").first ?? "") }

/// Bytes as B, KiB, MiB or GiB.
func byteLabel(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// A `--dtype` value as a floating storage type: float32, float16 or bfloat16, or the
/// short names fp32, fp16 and bf16.
func floatingDType(_ name: String) throws -> DType {
    let aliases: [String: DType] = ["fp32": .float32, "fp16": .float16, "bf16": .bfloat16]
    guard let dtype = aliases[name] ?? DType(rawValue: name), dtype.isFloatingPoint else {
        throw ValidationError("--dtype must be float32, float16 or bfloat16 (or fp32, fp16, bf16), got \(name)")
    }
    return dtype
}

/// Throws unless each named tensor's element count (the product of its extents, formed
/// without overflow) fits a tensor (`Tensor.maxElements`).
func checkElementCounts(_ tensors: [(name: String, extents: [Int])]) throws {
    for (name, extents) in tensors {
        var product = 1
        for extent in extents {
            let (next, overflow) = product.multipliedReportingOverflow(by: extent)
            guard !overflow, next <= Tensor.maxElements else {
                throw ValidationError("\(name) = \(extents.map(String.init).joined(separator: "·")) exceeds "
                    + "\(Tensor.maxElements) elements (a tensor's limit)")
            }
            product = next
        }
    }
}
