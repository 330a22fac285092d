import ArgumentParser
import FusedKernels

/// Measures candidate launch parameters and algorithms per shape class on each OpenCL
/// device and stores the winners in the device's tuning file (used by the library).
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure launch parameters per device and store the fastest in its tuning file.")

    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every OpenCL device but simulators.")
    var device: String?
    @Option(help: "Timed repetitions per candidate.") var `repeat` = 5

    static let rowsPerItem = [1, 2, 4, 8, 16]
    static let chunks = [2, 4, 8]
    static let workGroupSizes = [1, 4, 16]
    static let itemsPerComputeUnit = [1, 2, 4, 8]
    /// What `auto` may run (never twoPass: accurate only for |z| < ~9e4).
    static let shortRowVariants: [SoftmaxVariant] = [.online, .block, .threePass]
    static let longRowVariants: [SoftmaxVariant] = [.online, .threePass]
    /// One representative shape per class: short rows (≤ TuningParameters.longRowColumns),
    /// long rows, rows too few for the compute units (split into shards), and top-k.
    static let shortRows = [2048, 4096]
    static let longRows = [256, 1 << 18]
    static let fewRows = [1, 1 << 22]
    static let topKRows = [2048, 4096]

    func run() throws {
        for engine in try benchmarkEngines(device) {
            guard case .opencl = engine.backend else { continue }
            print("tuning \(engine.backend)")
            var tuned = TuningParameters.defaults
            try tune(engine, &tuned, on: Self.shortRows, launchCandidates) { $0.softmaxShortRows = $1 }
            try tune(engine, &tuned, on: Self.longRows, launchCandidates) { $0.softmaxLongRows = $1 }
            try tune(engine, &tuned, on: Self.shortRows, Self.workGroupSizes) { $0.softmaxShortRows.workGroupSize = $1 }
            try tune(engine, &tuned, on: Self.longRows, Self.workGroupSizes) { $0.softmaxLongRows.workGroupSize = $1 }
            try tune(engine, &tuned, on: Self.shortRows, Self.shortRowVariants) { $0.softmaxShortRowsVariant = $1 }
            try tune(engine, &tuned, on: Self.longRows, Self.longRowVariants) { $0.softmaxLongRowsVariant = $1 }
            try tune(engine, &tuned, on: Self.fewRows, Self.itemsPerComputeUnit) { $0.itemsPerComputeUnit = $1 }
            let x = try engine.tensor(benchmarkInput(count: Self.topKRows.reduce(1, *)), shape: Self.topKRows)
            try tune(engine, &tuned, Self.rowsPerItem, { $0.topKRowsPerItem = $1 },
                     label: "top-8 \(Self.topKRows) rows per item") { _ = try engine.softmaxTopK(x, k: 8) }
            let url = try engine.saveTuning(tuned)
            print("  saved \(url.path)")
        }
    }

    var launchCandidates: [SoftmaxLaunchParameters] {
        Self.rowsPerItem.flatMap { rows in Self.chunks.map { SoftmaxLaunchParameters(rowsPerItem: rows, chunk: $0) } }
    }

    /// Applies to `tuned` (with `apply`) the candidate with the lowest median softmax
    /// time on `shape` (auto variant).
    private func tune<Candidate>(_ engine: Engine, _ tuned: inout TuningParameters, on shape: [Int],
                                 _ candidates: [Candidate],
                                 _ apply: (inout TuningParameters, Candidate) -> Void) throws {
        let x = try engine.tensor(benchmarkInput(count: shape.reduce(1, *)), shape: shape)
        let y = try engine.softmax(x)
        try tune(engine, &tuned, candidates, apply, label: shape.description) { try engine.softmax(x, into: y) }
    }

    /// Applies to `tuned` the candidate with the lowest median time of `body`.
    private func tune<Candidate>(_ engine: Engine, _ tuned: inout TuningParameters, _ candidates: [Candidate],
                                 _ apply: (inout TuningParameters, Candidate) -> Void, label: String,
                                 _ body: () throws -> Void) throws {
        var winner: (candidate: Candidate, milliseconds: Double)?
        for candidate in candidates {
            var trial = tuned
            apply(&trial, candidate)
            try engine.useTuning(trial)
            let time = try measure(engine, repeat: `repeat`, body).median
            print(String(format: "  %@ %@: %.3f ms", label, "\(candidate)", time))
            if time < winner?.milliseconds ?? .infinity { winner = (candidate, time) }
        }
        apply(&tuned, winner!.candidate)
        try engine.useTuning(tuned)
        print("  best: \(winner!.candidate)")
    }
}
