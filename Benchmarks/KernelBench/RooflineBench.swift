import ArgumentParser
import Foundation
import FusedKernels

struct RooflineBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "roofline",
        abstract: "Measure each device's copy bandwidth, FMA peak and launch latency now.",
        discussion: """
            Per device: copies of the same bytes (GB/s of bytes read + written; the fastest is the roofline of \
            memory-bound ops) and the FMA-peak kernel (GFLOP/s; on the CPU path the BLAS SGEMM rate), whose \
            record has no timings of its own (NaN) and carries the launch latency. --preset picks the kernels' \
            shape on OpenCL devices (auto: gpu on devices that are not CPUs): the CPU shape copies with \
            streaming (non-temporal) and with plain stores, two records, and its FMA record's variant is \
            fma-peak; the GPU shape makes one coalesced copy record and an fma-peak-gpu record. Each record's \
            details name the shape that ran.
            """)

    static let suiteArguments: [[String]] = [[]]

    @Option(help: deviceHelp) var device: String?
    @Option(help: "Elements copied (float32).") var elements = 1 << 26
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @Option(help: "Kernel shape on OpenCL: auto (gpu on devices that are not CPUs), cpu or gpu.")
    var preset: KernelPreset = .auto
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        guard elements >= 1, `repeat` >= 1 else { throw ValidationError("elements and repeat must be ≥ 1") }
        try checkElementCounts([("--elements", [elements])])
        let input = benchmarkInput(count: elements)
        return try engines.flatMap { engine in
            Progress.show("roofline on \(engine.backend)")
            let shape = shapeLabel(engine)
            let x = try engine.tensor(input, shape: [elements])
            let y = try engine.copy(x, preset: preset)
            let bytes = 2 * Double(elements * 4)
            // Streaming stores only exist in the CPU shape (and on the CPU path they change nothing either).
            let variants: [(label: String, streaming: Bool)] = shape == "gpu"
                ? [("coalesced", false)] : [("streaming stores", true), ("plain stores", false)]
            let copies = try variants.map { variant in
                (variant.label, try measure(engine, repeat: `repeat`) {
                    try engine.copy(x, into: y, streamingStores: variant.streaming, preset: preset)
                })
            }
            let best = Roofline(value: copies.map { bytes / $0.1.median / 1e6 }.max() ?? .nan, source: "copy")
            let copyRecords = copies.map { label, timings in
                BenchRecord(family: Self.family, op: "copy", variant: label, dtype: .float32, shape: [elements],
                            engine: engine, timings: timings, unit: .gigabytes, work: bytes, roofline: best,
                            maxError: nil, errorMetric: "none", details: ["shape": .text(shape)])
            }
            let fma = try context.fmaRoofline(engine, preset: preset)
            let latency = try engine.launchLatency().map { Detail.number($0) } ?? .text("n/a (CPU path)")
            let unmeasured = Timings(samples: [.nan], firstCall: .nan, kernels: [])
            var peak = BenchRecord(family: Self.family, op: "fma-peak", variant: fma.source, dtype: .float32, shape: [],
                                   engine: engine, timings: unmeasured, unit: .gigaflops, work: .nan, roofline: fma,
                                   maxError: nil, errorMetric: "none",
                                   details: ["launch_latency_us": latency, "shape": .text(shape)])
            peak.throughput = fma.value
            if engine.backend != .cpu {
                peak.ranOn = shape == "gpu" ? "roofline/fma_scalar.cl:fma_peak_scalar" : "roofline/fma.cl:fma_peak"
            }
            peak.fractionOfRoofline = 1
            return copyRecords + [peak]
        }
    }

    /// The kernel shape that runs on the engine: cpu, gpu, or "cpu path" (no kernels).
    private func shapeLabel(_ engine: Engine) -> String {
        guard engine.backend != .cpu else { return "cpu path" }
        return engine.usesGPUShape(preset) ? "gpu" : "cpu"
    }
}
