import ArgumentParser
import Foundation
import FusedKernels

struct RooflineBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "roofline",
        abstract: "Measure each device's copy bandwidth, FMA peak and launch latency now.",
        discussion: """
            Three records per device: copies of the same bytes with streaming (non-temporal) and with plain \
            stores (GB/s of bytes read + written; the faster is the roofline of memory-bound ops), and the \
            FMA-peak kernel (GFLOP/s; on the CPU path the BLAS SGEMM rate), whose record has no timings of its \
            own (NaN) and carries the launch latency.
            """)

    static let suiteArguments: [[String]] = [[]]

    @Option(help: deviceHelp) var device: String?
    @Option(help: "Elements copied (float32).") var elements = 1 << 26
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        guard elements >= 1, `repeat` >= 1 else { throw ValidationError("elements and repeat must be ≥ 1") }
        try checkElementCounts([("--elements", [elements])])
        let input = benchmarkInput(count: elements)
        return try engines.flatMap { engine in
            Progress.show("roofline on \(engine.backend)")
            let x = try engine.tensor(input, shape: [elements])
            let y = try engine.copy(x)
            let bytes = 2 * Double(elements * 4)
            let copies = try [true, false].map { streaming in
                (streaming, try measure(engine, repeat: `repeat`) { try engine.copy(x, into: y, streamingStores: streaming) })
            }
            let best = Roofline(value: copies.map { bytes / $0.1.median / 1e6 }.max() ?? .nan, source: "copy")
            let copyRecords = copies.map { streaming, timings in
                BenchRecord(family: Self.family, op: "copy", variant: streaming ? "streaming stores" : "plain stores",
                            dtype: .float32, shape: [elements], engine: engine, timings: timings, unit: .gigabytes,
                            work: bytes, roofline: best, maxError: nil, errorMetric: "none")
            }
            let fma = try context.fmaRoofline(engine)
            let latency = try engine.launchLatency().map { Detail.number($0) } ?? .text("n/a (CPU path)")
            let unmeasured = Timings(samples: [.nan], firstCall: .nan, kernels: [])
            var peak = BenchRecord(family: Self.family, op: "fma-peak", variant: fma.source, dtype: .float32, shape: [],
                                   engine: engine, timings: unmeasured, unit: .gigaflops, work: .nan, roofline: fma,
                                   maxError: nil, errorMetric: "none", details: ["launch_latency_us": latency])
            peak.throughput = fma.value
            if engine.backend != .cpu { peak.ranOn = "roofline/fma.cl:fma_peak" }
            peak.fractionOfRoofline = 1
            return copyRecords + [peak]
        }
    }
}
