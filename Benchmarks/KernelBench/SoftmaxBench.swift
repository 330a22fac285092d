import ArgumentParser
import FusedKernels

struct SoftmaxBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "softmax",
        abstract: "Time the fused softmax family (forward or backward) against a copy kernel on the same device.")

    static let suiteShapes = [(4096, 256), (4096, 1024), (4096, 4096), (64, 1_048_576)]
    static var suiteArguments: [[String]] {
        ["softmax", "logSoftmax", "logSumExp"].flatMap { kind in
            suiteShapes.map { ["--kind", kind, "--rows", "\($0.0)", "--cols", "\($0.1)"] }
        } + suiteShapes.map { ["--backward", "--rows", "\($0.0)", "--cols", "\($0.1)"] }
    }

    @Option(help: "Rows of the input.") var rows = 4096
    @Option(help: "Columns (the softmax axis).") var cols = 4096
    @Option(help: "softmax, logSoftmax or logSumExp.") var kind = "softmax"
    @Flag(help: "Time the backward (dx from y and dy; softmax or logSoftmax) instead of the forward.") var backward = false
    @Option(help: "Storage of x and y: float32, float16 or bfloat16 (arithmetic is fp32).") var dtype = "float32"
    @Option(help: "Forward algorithm (OpenCL and CPU path): auto, online, block, threePass, twoPass or split.") var variant = "auto"
    @Option(help: presetHelp) var preset = KernelPreset.auto
    @Option(help: deviceHelp) var device: String?
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        guard let kind = SoftmaxKind(rawValue: kind) else {
            throw ValidationError("--kind must be one of \(SoftmaxKind.allCases.map(\.rawValue))")
        }
        let dtype = try floatingDType(dtype)
        guard let variant = SoftmaxVariant(rawValue: variant) else {
            throw ValidationError("--variant must be one of \(SoftmaxVariant.allCases.map(\.rawValue))")
        }
        guard rows >= 1, cols >= 1, `repeat` >= 1 else { throw ValidationError("rows, cols and repeat must be ≥ 1") }
        guard !backward || kind != .logSumExp else {
            throw ValidationError("--backward takes --kind softmax or logSoftmax (log-sum-exp's is the normalizer family's)")
        }
        try checkElementCounts([("rows·cols", [rows, cols])])
        let options = SoftmaxOptions(variant: variant, preset: preset)
        let shape = [rows, cols]
        let input = benchmarkInput(count: rows * cols).map(dtype.round)
        // Rounded to the storage type, so that values that underflow there compare equal.
        let cpu = try Engine(device: "cpu")
        let gradient = backward ? benchmarkInput(count: rows * cols, seed: 5).map(dtype.round) : []
        let reference = try softmaxResult(cpu, input, gradient, shape: shape, kind: kind, dtype: dtype, options: options)
            .array(of: Float.self).map(dtype.round)
        // Forward: x read, y written; backward: y and dy read, dx written.
        let bytes = Double(((backward ? 2 : 1) * rows * cols + reference.count) * dtype.byteCount)
        return try engines.map { engine in
            Progress.show("softmax \(kind) \(rows)x\(cols) on \(engine.backend)")
            // Outputs are allocated once: a fresh buffer per run would time page faults.
            let x = try tensor(input, shape: shape, dtype: dtype, on: engine)
            let y = try engine.empty(shape: kind == .logSumExp && !backward ? [rows, 1] : shape, dtype: dtype)
            let dy = try backward ? tensor(gradient, shape: shape, dtype: dtype, on: engine) : nil
            let timings = try measure(engine, repeat: `repeat`) {
                if let dy {
                    try engine.softmaxBackward(output: x, gradient: dy, into: y, kind: kind, preset: preset)
                } else {
                    try engine.softmax(x, into: y, kind: kind, options: options)
                }
            }
            return BenchRecord(
                family: Self.family, op: backward ? "\(kind)-backward" : kind.rawValue, variant: variant.rawValue,
                dtype: dtype, shape: shape, engine: engine, timings: timings, unit: .gigabytes, work: bytes,
                roofline: try context.copyRoofline(engine, x, repeat: `repeat`),
                // dx = y·(dy − Σ y·dy) cancels: its error is judged against the row's scale.
                maxError: backward ? normwiseError(try y.array(of: Float.self), reference)
                    : maxRelativeError(try y.array(of: Float.self), reference, dtype: dtype),
                errorMetric: backward ? "normwise" : "relative", details: ["preset": .text(preset.rawValue)])
        }
    }
}

/// The forward of `input`, or with a gradient the backward treating `input` as the output y.
private func softmaxResult(_ engine: Engine, _ input: [Float], _ gradient: [Float], shape: [Int], kind: SoftmaxKind,
                           dtype: DType, options: SoftmaxOptions) throws -> Tensor {
    let x = try tensor(input, shape: shape, dtype: dtype, on: engine)
    guard !gradient.isEmpty else { return try engine.softmax(x, kind: kind, options: options) }
    return try engine.softmaxBackward(output: x, gradient: try tensor(gradient, shape: shape, dtype: dtype, on: engine),
                                      kind: kind)
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
