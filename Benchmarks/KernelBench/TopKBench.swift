import ArgumentParser
import Foundation
import FusedKernels

struct TopKBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topk",
        abstract: "Time fused softmax + top-k against the unfused baseline (softmax kernel, then a top-k kernel).")

    @Option(help: "Rows of the input.") var rows = 4096
    @Option(help: "Columns (the softmax axis).") var cols = 4096
    @Option(help: "How many entries per row.") var k = 8
    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every device and the CPU path.")
    var device: String?
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @Flag(help: "One JSON object per measurement.") var json = false

    func run() throws {
        guard rows >= 1, cols >= 1, `repeat` >= 1, (1 ... min(cols, Engine.maxTopK)).contains(k) else {
            throw ValidationError("rows, cols, repeat ≥ 1 and 1 ≤ k ≤ min(cols, \(Engine.maxTopK))")
        }
        let input = benchmarkInput(count: rows * cols)
        let cpu = try Engine(device: "cpu")
        let reference = try cpu.softmaxTopK(try cpu.tensor(input, shape: [rows, cols]), k: k)
        let (referenceValues, referenceIndices) = (try reference.values.array(of: Float.self),
                                                   try reference.indices.array(of: Int32.self))
        for engine in try benchmarkEngines(device) {
            let x = try engine.tensor(input, shape: [rows, cols])
            let probabilities = try engine.softmax(x)
            var result = try engine.softmaxTopK(x, k: k)
            let fused = try measure(engine, repeat: `repeat`) { result = try engine.softmaxTopK(x, k: k) }
            let unfused = try measure(engine, repeat: `repeat`) {
                try engine.softmax(x, into: probabilities)
                _ = try engine.topK(probabilities, k: k)
            }
            TopKReport(device: engine.backend.description, shape: [rows, cols], k: k, median_ms: fused.median,
                       min_ms: fused.min, unfused_median_ms: unfused.median, speedup: unfused.median / fused.median,
                       read_gbps: Double(rows * cols * 4) / fused.median / 1e6,
                       max_rel_error: maxRelativeError(try result.values.array(of: Float.self), referenceValues),
                       indices_match: try result.indices.array(of: Int32.self) == referenceIndices).print(json: json)
        }
    }
}

struct TopKReport: Encodable {
    var op = "softmax_topk"
    let device: String
    let shape: [Int]
    let k: Int
    let median_ms: Double
    let min_ms: Double
    let unfused_median_ms: Double
    let speedup: Double
    /// Input bytes read per second by the fused kernel.
    let read_gbps: Double
    let max_rel_error: Double
    let indices_match: Bool

    func print(json: Bool) {
        if json { return printJSON(self) }
        Swift.print(String(
            format: "softmax+top%d %@ on %@: fused median %.3f ms (min %.3f), %.2f GB/s read; unfused %.3f ms; "
                + "%.2fx; max rel err %.2e; indices %@",
            k, shape.map(String.init).joined(separator: "x"), device, median_ms, min_ms, read_gbps,
            unfused_median_ms, speedup, max_rel_error, indices_match ? "match" : "DIFFER"))
    }
}
