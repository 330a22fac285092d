import ArgumentParser
import FusedKernels

/// Measures candidate softmax launch parameters per shape class on each OpenCL
/// device and stores the winners in the device's tuning file (used by the library).
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure launch parameters per device and store the fastest in its tuning file.")

    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every OpenCL device but simulators.")
    var device: String?
    @Option(help: "Timed repetitions per candidate.") var `repeat` = 5

    static let rowsPerItem = [1, 2, 4, 8, 16]
    static let chunks = [2, 4, 8]
    /// One representative shape per class: short rows (≤ TuningParameters.longRowColumns) and long rows.
    static let shortRows = Shape(rows: 2048, cols: 4096)
    static let longRows = Shape(rows: 16, cols: 1 << 20)

    func run() throws {
        for engine in try benchmarkEngines(device) {
            guard case .opencl = engine.backend else { continue }
            print("tuning \(engine.backend)")
            let short = try best(engine, shape: Self.shortRows) { TuningParameters(softmaxShortRows: $0, softmaxLongRows: $0) }
            let long = try best(engine, shape: Self.longRows) { TuningParameters(softmaxShortRows: $0, softmaxLongRows: $0) }
            let url = try engine.saveTuning(TuningParameters(softmaxShortRows: short, softmaxLongRows: long))
            print("  short rows: \(short)\n  long rows: \(long)\n  saved \(url.path)")
        }
    }

    /// The candidate with the lowest median softmax time on `shape`.
    private func best(_ engine: Engine, shape: Shape,
                      _ make: (SoftmaxLaunchParameters) -> TuningParameters) throws -> SoftmaxLaunchParameters {
        let x = try engine.tensor(benchmarkInput(count: shape.count), shape: shape)
        let y = try engine.softmax(x)
        var winner = (parameters: TuningParameters.defaults.softmax(shape), milliseconds: Double.infinity)
        for rows in Self.rowsPerItem {
            for chunk in Self.chunks {
                let candidate = SoftmaxLaunchParameters(rowsPerItem: rows, chunk: chunk)
                try engine.useTuning(make(candidate))
                let time = try measure(engine, repeat: `repeat`) { try engine.softmax(x, into: y) }.median
                print(String(format: "  %@ %@: %.3f ms", shape.description, candidate.description, time))
                if time < winner.milliseconds { winner = (candidate, time) }
            }
        }
        return winner.parameters
    }
}
