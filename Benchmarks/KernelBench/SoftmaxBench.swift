import ArgumentParser
import FusedKernels

struct SoftmaxBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "softmax",
        abstract: "Time the fused softmax family against a copy kernel on the same device.")

    @Option(help: "Rows of the input.") var rows = 4096
    @Option(help: "Columns (the softmax axis).") var cols = 4096
    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every device and the CPU path.")
    var device: String?
    @Option(help: "softmax, logSoftmax or logSumExp.") var kind = "softmax"
    @Option(help: "Storage of x and y: float32, float16 or bfloat16 (arithmetic is fp32).") var dtype = "float32"
    @Option(help: "Forward algorithm (OpenCL and CPU path): auto, online, block, threePass, twoPass or split.") var variant = "auto"
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @Flag(help: "One JSON object per measurement.") var json = false

    func run() throws {
        guard let kind = SoftmaxKind(rawValue: kind) else {
            throw ValidationError("--kind must be one of \(SoftmaxKind.allCases.map(\.rawValue))")
        }
        guard let dtype = DType(rawValue: dtype) else {
            throw ValidationError("--dtype must be one of \(DType.allCases.map(\.rawValue))")
        }
        guard let variant = SoftmaxVariant(rawValue: variant) else {
            throw ValidationError("--variant must be one of \(SoftmaxVariant.allCases.map(\.rawValue))")
        }
        guard rows >= 1, cols >= 1, `repeat` >= 1 else { throw ValidationError("rows, cols and repeat must be ≥ 1") }
        try runSoftmax(rows: rows, cols: cols, kind: kind, dtype: dtype, variant: variant,
                       engines: try benchmarkEngines(device), repeat: `repeat`, json: json)
    }
}

/// Softmax-family forward: bytes = (rows·cols read + output written) · dtype size.
func runSoftmax(rows: Int, cols: Int, kind: SoftmaxKind, dtype: DType = .float32, variant: SoftmaxVariant = .auto,
                engines: [Engine], repeat count: Int, json: Bool) throws {
    let options = SoftmaxOptions(variant: variant)
    let shape = [rows, cols]
    let input = benchmarkInput(count: rows * cols).map(dtype.round)
    // Rounded to the storage type, so that values that underflow there compare equal.
    let cpu = try Engine(device: "cpu")
    let reference = try cpu.softmax(try cpu.tensor(input, shape: shape), kind: kind).array(of: Float.self).map(dtype.round)
    let bytes = Double((rows * cols + reference.count) * dtype.byteCount)
    for engine in engines {
        // Outputs are allocated once: a fresh buffer per run would time page faults.
        let x = try tensor(input, shape: shape, dtype: dtype, on: engine)
        let y = try engine.empty(shape: kind == .logSumExp ? [rows, 1] : shape, dtype: dtype)
        let copied = try engine.copy(x)
        let op = try measure(engine, repeat: count) { try engine.softmax(x, into: y, kind: kind, options: options) }
        let copy = try copyBandwidth(engine, x, into: copied, repeat: count)
        let output = try y.array(of: Float.self)
        let gbps = bytes / op.median / 1e6
        Report(op: kind.rawValue, variant: variant.rawValue, dtype: dtype.rawValue, device: engine.backend.description, shape: [rows, cols], median_ms: op.median,
               min_ms: op.min, first_call_ms: op.firstCall, gbps: gbps, roofline_gbps: copy.best, plain_copy_gbps: copy.plain,
               fraction_of_roofline: gbps / copy.best, fraction_of_plain_copy: gbps / copy.plain,
               max_rel_error: maxRelativeError(output, reference, dtype: dtype), kernels: op.kernels).print(json: json)
    }
}

struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The default suite: softmax on 4096×4096 and 64×1048576, every device and the CPU path.")

    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @Flag(help: "One JSON object per measurement.") var json = false

    func run() throws {
        let engines = try benchmarkEngines(nil)
        for (rows, cols) in [(4096, 4096), (64, 1_048_576)] {
            try runSoftmax(rows: rows, cols: cols, kind: .softmax, engines: engines, repeat: `repeat`, json: json)
        }
    }
}

/// `values` stored as `dtype` on `engine`.
func tensor(_ values: [Float], shape: [Int], dtype: DType, on engine: Engine) throws -> Tensor {
    switch dtype {
    case .float32: return try engine.tensor(values, shape: shape)
    case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
    case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
    case .int32, .bool: throw ValidationError("\(dtype) is not a floating-point storage type")
    }
}
