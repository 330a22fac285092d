import ArgumentParser
import FusedKernels

struct TopKBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "topk",
        abstract: "Time fused softmax + top-k against the unfused baseline (softmax kernel, then a top-k kernel).")

    static var suiteArguments: [[String]] {
        [(4096, 1024), (4096, 4096), (64, 1_048_576)].map { ["--rows", "\($0.0)", "--cols", "\($0.1)", "--k", "8"] }
    }

    @Option(help: "Rows of the input.") var rows = 4096
    @Option(help: "Columns (the softmax axis).") var cols = 4096
    @Option(help: "How many entries per row.") var k = 8
    @Option(help: presetHelp) var preset = KernelPreset.auto
    @Option(help: deviceHelp) var device: String?
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @OptionGroup var output: OutputOptions

    /// Two records per engine: the fused op, and softmax then top-k (its `speedup` detail
    /// is the fused op's).
    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        guard rows >= 1, cols >= 1, `repeat` >= 1, (1 ... min(cols, Engine.maxTopK)).contains(k) else {
            throw ValidationError("rows, cols, repeat ≥ 1 and 1 ≤ k ≤ min(cols, \(Engine.maxTopK))")
        }
        try checkElementCounts([("rows·cols", [rows, cols])])
        let input = benchmarkInput(count: rows * cols)
        let cpu = try Engine(device: "cpu")
        let reference = try cpu.softmaxTopK(try cpu.tensor(input, shape: [rows, cols]), k: k)
        let (referenceValues, referenceIndices) = (try reference.values.array(of: Float.self),
                                                   try reference.indices.array(of: Int32.self))
        // The input, read once by the fused op (the unfused one reads it twice and writes P).
        let bytes = Double(rows * cols * 4)
        return try engines.flatMap { engine in
            Progress.show("topk \(rows)x\(cols) k \(k) on \(engine.backend)")
            let x = try engine.tensor(input, shape: [rows, cols])
            let probabilities = try engine.softmax(x)
            var result = try engine.softmaxTopK(x, k: k, preset: preset)
            let fused = try measure(engine, repeat: `repeat`) { result = try engine.softmaxTopK(x, k: k, preset: preset) }
            var unfusedResult = result
            let unfused = try measure(engine, repeat: `repeat`) {
                try engine.softmax(x, into: probabilities, options: SoftmaxOptions(preset: preset))
                unfusedResult = try engine.topK(probabilities, k: k, preset: preset)
            }
            let roofline = try context.copyRoofline(engine, x, repeat: `repeat`)
            let record = { (variant: String, timings: Timings, result: TopK, details: [String: Detail]) in
                let indicesMatch = try result.indices.array(of: Int32.self) == referenceIndices
                return BenchRecord(
                    family: Self.family, op: "softmax-topk", variant: variant, dtype: .float32, shape: [rows, cols],
                    engine: engine, timings: timings, unit: .gigabytes, work: bytes, roofline: roofline,
                    maxError: maxRelativeError(try result.values.array(of: Float.self), referenceValues),
                    errorMetric: "relative", details: details.merging(["k": .number(Double(k)), "indices_match": .flag(indicesMatch),
                                                                       "preset": .text(preset.rawValue)]) { $1 })
            }
            return [try record("fused", fused, result, ["speedup": .number(unfused.median / fused.median)]),
                    try record("unfused", unfused, unfusedResult, [:])]
        }
    }
}
