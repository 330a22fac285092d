import ArgumentParser
import Foundation
import FusedKernels

struct RooflineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roofline",
        abstract: "Measure each device's copy bandwidth, FMA peak and launch latency now.")

    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every device and the CPU path.")
    var device: String?
    @Option(help: "Elements copied (float32).") var elements = 1 << 26
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 10
    @Flag(help: "One JSON object per device.") var json = false

    func run() throws {
        guard elements >= 1, `repeat` >= 1 else { throw ValidationError("elements and repeat must be ≥ 1") }
        let input = benchmarkInput(count: elements)
        for engine in try benchmarkEngines(device) {
            let x = try engine.tensor(input, shape: [elements])
            let copy = try copyBandwidth(engine, x, into: try engine.copy(x), repeat: `repeat`)
            RooflineReport(device: engine.backend.description, copy_gbps: copy.best, plain_copy_gbps: copy.plain,
                           fma_peak_gflops: try engine.fmaPeak(repeat: `repeat`),
                           launch_latency_us: try engine.launchLatency()).print(json: json)
        }
    }
}

struct RooflineReport: Encodable {
    let device: String
    /// The faster of the streaming-store and plain-store copies (bytes read + written).
    let copy_gbps: Double
    let plain_copy_gbps: Double
    /// The FMA-peak kernel on a device; the BLAS SGEMM rate on the CPU path.
    let fma_peak_gflops: Double
    /// Enqueue to completion of an empty kernel, seen by the host (none on the CPU path).
    let launch_latency_us: Double?

    func print(json: Bool) {
        if json { return printJSON(self) }
        Swift.print(String(format: "%@: copy %.1f GB/s (plain stores %.1f), FMA peak %.1f GFLOP/s, launch %@", device,
                           copy_gbps, plain_copy_gbps, fma_peak_gflops,
                           launch_latency_us.map { String(format: "%.1f µs", $0) } ?? "n/a (CPU path)"))
    }
}
