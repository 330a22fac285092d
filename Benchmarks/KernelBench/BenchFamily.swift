import ArgumentParser
import FusedKernels

/// An op family's benchmark: a subcommand that measures one configuration (its flags)
/// on a set of engines, and the configurations `suite` runs. A new family joins by
/// adding one file with a conforming command and listing it in `KernelBench.families`.
protocol BenchFamily: ParsableCommand {
    /// The family's name in records and reports (also its subcommand's name).
    static var family: String { get }
    /// The suite's standard configurations, as this subcommand's arguments: a size sweep
    /// per variant, so that reports can chart throughput against size.
    static var suiteArguments: [[String]] { get }
    /// `--device` as given (nil: every device and the CPU path).
    var device: String? { get }
    var output: OutputOptions { get }

    /// Measures this configuration on each engine.
    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord]
}

extension BenchFamily {
    static var family: String { configuration.commandName ?? "\(Self.self)" }

    func run() throws {
        let engines = try benchmarkEngines(device)
        let records = try records(on: engines, context: BenchContext())
        Progress.clear()
        RecordOutput(output.format).emit(records)
    }
}

/// What measurements in one process share: each engine's FMA peak, measured once.
final class BenchContext {
    private var fmaPeaks: [String: Double] = [:]

    /// The engine's FMA-peak kernel rate in the shape `preset` picks (the BLAS SGEMM rate
    /// on the CPU path); the GPU shape's source is `fma-peak-gpu`.
    func fmaRoofline(_ engine: Engine, preset: KernelPreset = .auto) throws -> Roofline {
        let source: String
        switch engine.backend {
        case .cpu: source = "blas-sgemm"
        case .opencl: source = engine.usesGPUShape(preset) ? "fma-peak-gpu" : "fma-peak"
        }
        let key = "\(engine.backend) \(source)"
        let value = try fmaPeaks[key] ?? engine.fmaPeak(preset: preset)
        fmaPeaks[key] = value
        return Roofline(value: value, source: source)
    }

    /// The faster copy of `bytes`-sized `x` on the engine (streaming or plain stores).
    func copyRoofline(_ engine: Engine, _ x: Tensor, repeat count: Int) throws -> Roofline {
        let copy = try copyBandwidth(engine, x, into: try engine.copy(x), repeat: count)
        return Roofline(value: copy.best, source: "copy")
    }
}
