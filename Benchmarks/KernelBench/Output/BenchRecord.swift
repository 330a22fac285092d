import Foundation
import FusedKernels

/// One measurement, in the one schema every family and every output format uses (the
/// README's "kernel-bench output" lists the fields). Family-specific facts (the top-k's
/// unfused time, a cross-entropy's scratch bytes) go in `details`.
struct BenchRecord: Codable, Equatable {
    /// The op family: softmax, normalizer, topk, matmul, cross-entropy, attention.
    var family: String
    /// The op within the family (softmax, logSoftmax, softmax-topk, attention…).
    var op: String
    /// Algorithm and options: what distinguishes runs of one op on one shape.
    var variant: String
    var dtype: String
    var shape: [Int]
    /// `Engine.backend.description`: `cpu`, or `opencl:N name [platform]`.
    var device: String
    /// cpu-path, or the OpenCL device's kind: cpu, gpu (any other non-CPU device) or simulator.
    var deviceType: String
    var medianMs: Double
    /// The 20th and 80th percentiles of the timed runs (nearest rank).
    var p20Ms: Double
    var p80Ms: Double
    var minMs: Double
    /// The warm-up call, kernel builds (or cache loads) included.
    var firstCallMs: Double
    /// GB/s (memory-bound ops) or GFLOP/s (compute-bound ones).
    var unit: String
    /// Bytes or FLOPs per run, as the unit counts them: throughput = work / median.
    var work: Double
    var throughput: Double
    /// The same run's limit on the same device, in `unit`: the faster copy kernel on the
    /// same bytes (GB/s), or the FMA-peak kernel (GFLOP/s; the BLAS SGEMM on the CPU path).
    var roofline: Double
    /// copy, fma-peak (fma-peak-gpu: the kernel's GPU shape) or blas-sgemm.
    var rooflineSource: String
    var fractionOfRoofline: Double
    /// Against the CPU path's result; nil when not checked (huge shapes, or the CPU path
    /// measuring itself).
    var maxError: Double?
    /// relative (per element), normwise (max |x − ref| / max |ref|) or none.
    var errorMetric: String
    /// Where the op ran: the kernels it launched (file:entry), or "CPU path" (on an
    /// OpenCL engine, "CPU path (fallback)").
    var ranOn: String
    /// The kernel specs launched, in full (file:entry and sorted -D defines).
    var kernels: [String]
    var details: [String: Detail]

    enum CodingKeys: String, CodingKey {
        case family, op, variant, dtype, shape, device, deviceType = "device_type", medianMs = "median_ms",
             p20Ms = "p20_ms", p80Ms = "p80_ms", minMs = "min_ms", firstCallMs = "first_call_ms", unit, work,
             throughput, roofline, rooflineSource = "roofline_source", fractionOfRoofline = "fraction_of_roofline",
             maxError = "max_error", errorMetric = "error_metric", ranOn = "ran_on", kernels, details
    }
}

/// A value in `BenchRecord.details`: a number, a flag or a label.
enum Detail: Codable, Equatable, CustomStringConvertible {
    case number(Double)
    case flag(Bool)
    case text(String)

    init(from decoder: Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let flag = try? value.decode(Bool.self) { self = .flag(flag) }
        else if let number = try? value.decode(Double.self) { self = .number(number) }
        else { self = .text(try value.decode(String.self)) }
    }

    func encode(to encoder: Encoder) throws {
        var value = encoder.singleValueContainer()
        switch self {
        case let .number(number): try value.encode(number)
        case let .flag(flag): try value.encode(flag)
        case let .text(text): try value.encode(text)
        }
    }

    var number: Double? {
        if case let .number(number) = self { return number }
        return nil
    }

    var description: String {
        switch self {
        case let .number(number): return number == number.rounded() && abs(number) < 1e15
            ? String(Int(number)) : String(format: "%.4g", number)
        case let .flag(flag): return String(flag)
        case let .text(text): return text
        }
    }
}

extension BenchRecord {
    /// A record from one timed op: throughput = `work` / median, its fraction of `roofline`.
    init(family: String, op: String, variant: String, dtype: DType, shape: [Int], engine: Engine, timings: Timings,
         unit: ThroughputUnit, work: Double, roofline: Roofline, maxError: Double?, errorMetric: String,
         details: [String: Detail] = [:]) {
        let throughput = work / timings.median / 1e6
        self.init(family: family, op: op, variant: variant, dtype: dtype.rawValue, shape: shape,
                  device: engine.backend.description, deviceType: engine.deviceType, medianMs: timings.median,
                  p20Ms: timings.percentile(20), p80Ms: timings.percentile(80), minMs: timings.min,
                  firstCallMs: timings.firstCall, unit: unit.rawValue, work: work, throughput: throughput,
                  roofline: roofline.value, rooflineSource: roofline.source,
                  fractionOfRoofline: throughput / roofline.value, maxError: maxError, errorMetric: errorMetric,
                  ranOn: engine.ranOn(timings.kernels), kernels: timings.kernels, details: details)
    }
}

/// Bytes or FLOPs per millisecond / 10⁶: G-units per second.
enum ThroughputUnit: String {
    case gigabytes = "GB/s"
    case gigaflops = "GFLOP/s"
}

/// A same-run limit a throughput is judged against.
struct Roofline {
    let value: Double
    let source: String
}

extension OpenCLDevice {
    /// cpu, gpu (any other non-CPU device) or simulator.
    var kind: String { isSimulator ? "simulator" : isCPU ? "cpu" : "gpu" }
}

extension Engine {
    /// cpu-path, or the OpenCL device's kind.
    var deviceType: String {
        guard case let .opencl(device) = backend else { return "cpu-path" }
        return device.kind
    }

    /// The short labels of the kernels launched, or where a CPU-path run happened.
    func ranOn(_ kernels: [String]) -> String {
        if !kernels.isEmpty { return kernels.map(kernelLabel).joined(separator: " + ") }
        return backend == .cpu ? "CPU path" : "CPU path (fallback)"
    }
}

extension BenchRecord {
    /// Records from `--json` output (one object per line; blank lines skipped), reading
    /// the "nan" and "inf" strings `jsonLine` writes for non-finite numbers.
    static func decodeLines(_ text: String) throws -> [BenchRecord] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf",
                                                                        negativeInfinity: "-inf", nan: "nan")
        return try text.split(whereSeparator: \.isNewline).map { line in
            try decoder.decode(BenchRecord.self, from: Data(line.utf8))
        }
    }
}
