import ArgumentParser
import FusedKernels

struct NormalizerBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "normalizer",
        abstract: "Time the online normalizer's per-row (max, sum) and the log-sum-exp gradient against a copy kernel.")

    static var suiteArguments: [[String]] {
        ["statistics", "logSumExp-backward"].flatMap { op in
            SoftmaxBench.suiteShapes.map { ["--op", op, "--rows", "\($0.0)", "--cols", "\($0.1)"] }
        }
    }

    @Option(help: "Rows of the input.") var rows = 4096
    @Option(help: "Columns (the reduced axis).") var cols = 4096
    @Option(help: "statistics (one read of x, (max, sum) per row) or logSumExp-backward (dx = dlse·softmax(x)).")
    var op = "statistics"
    @Option(help: "Storage of x: float32, float16 or bfloat16 (arithmetic is fp32).") var dtype = "float32"
    @Option(help: presetHelp) var preset = KernelPreset.auto
    @Option(help: deviceHelp) var device: String?
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        let dtype = try floatingDType(dtype)
        guard ["statistics", "logSumExp-backward"].contains(op) else {
            throw ValidationError("--op must be statistics or logSumExp-backward (got \(op))")
        }
        guard rows >= 1, cols >= 1, `repeat` >= 1 else { throw ValidationError("rows, cols and repeat must be ≥ 1") }
        try checkElementCounts([("rows·cols", [rows, cols])])
        let shape = [rows, cols]
        let input = benchmarkInput(count: rows * cols).map(dtype.round)
        let gradient = benchmarkInput(count: rows, seed: 3).map { $0 / 8 }
        let cpu = try Engine(device: "cpu")
        let reference = try result(cpu, try tensor(input, shape: shape, dtype: dtype, on: cpu),
                                   try cpu.tensor(gradient, shape: [rows, 1]))()
        // x read, plus dx written by the backward; the statistics' 8 bytes per row.
        let bytes = Double((op == "statistics" ? rows * cols * dtype.byteCount + rows * 8 : 2 * rows * cols * dtype.byteCount))
        return try engines.map { engine in
            Progress.show("normalizer \(op) \(rows)x\(cols) on \(engine.backend)")
            let x = try tensor(input, shape: shape, dtype: dtype, on: engine)
            let dlse = try engine.tensor(gradient, shape: [rows, 1])
            var output: () throws -> [Float] = { [] }
            let timings = try measure(engine, repeat: `repeat`) { output = try result(engine, x, dlse) }
            return BenchRecord(
                family: Self.family, op: op, variant: "online", dtype: dtype, shape: shape, engine: engine,
                timings: timings, unit: .gigabytes, work: bytes, roofline: try context.copyRoofline(engine, x, repeat: `repeat`),
                maxError: maxRelativeError(try output(), reference, dtype: op == "statistics" ? .float32 : dtype),
                errorMetric: "relative", details: ["preset": .text(preset.rawValue)])
        }
    }

    /// Runs the op; returns how to read its result: the statistics as [max…, sum…] (they
    /// come back to the host with the op), or dx.
    private func result(_ engine: Engine, _ x: Tensor, _ dlse: Tensor) throws -> () throws -> [Float] {
        guard op != "statistics" else {
            let statistics = try engine.normalizer(x, options: SoftmaxOptions(preset: preset))
            return { statistics.max + statistics.sum }
        }
        let dx = try engine.logSumExpBackward(x, gradient: dlse, options: SoftmaxOptions(preset: preset))
        return { try dx.array(of: Float.self) }
    }
}
