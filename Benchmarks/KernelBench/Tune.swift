import ArgumentParser
import Foundation
import FusedKernels

extension TuningSection: ExpressibleByArgument {}

/// Measures candidate parameters per op family on each OpenCL device and stores the
/// winners in that family's section of the device's tuning file (used by the library).
/// Every parameter group is one candidate grid walked by `Tuner`.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure parameters per device and op family and store the fastest in the device's tuning file.")

    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every OpenCL device but simulators.")
    var device: String?
    @Option(help: "Only this section: softmax, topk or matmul (default: all).") var op: TuningSection?
    @Option(help: "Timed repetitions per candidate.") var `repeat` = 5
    @Option(help: "The fastest candidates of each grid timed again; the fastest of that round wins.") var finalists = 3

    static let rowsPerItem = [1, 2, 4, 8, 16]
    static let chunks = [2, 4, 8]
    static let workGroupSizes = [1, 4, 16]
    static let itemsPerComputeUnit = [1, 2, 4, 8]
    /// What `auto` may run (never twoPass: accurate only for |z| < ~9e4).
    static let shortRowVariants: [SoftmaxVariant] = [.online, .block, .threePass]
    static let longRowVariants: [SoftmaxVariant] = [.online, .threePass]
    /// One representative shape per class: short rows (≤ SoftmaxTuning.longRowColumns),
    /// long rows, rows too few for the compute units (split into shards), top-k, matmul.
    static let shortRows = [2048, 4096]
    static let longRows = [256, 1 << 18]
    static let fewRows = [1, 1 << 22]
    static let topKRows = [2048, 4096]
    static let matmulShape = (m: 1024, n: 1024, k: 1024)

    func run() throws {
        let sections = op.map { [$0] } ?? TuningSection.allCases
        for engine in try benchmarkEngines(device) {
            guard case let .opencl(device) = engine.backend else { continue }
            print("tuning \(engine.backend): \(sections.map(\.rawValue).joined(separator: ", "))")
            var tuned = engine.tuning
            for section in sections {
                switch section {
                case .softmax: try tuneSoftmax(engine, &tuned)
                case .topk: try tuneTopK(engine, &tuned)
                case .matmul: try tuneMatmul(engine, device, &tuned)
                }
            }
            let url = try engine.saveTuning(tuned, sections: Set(sections))
            print("  saved \(url.path)")
        }
    }

    func tuneSoftmax(_ engine: Engine, _ tuned: inout TuningParameters) throws {
        tuned.softmax = .defaults
        try tuneSoftmax(engine, &tuned, on: Self.shortRows, launchCandidates) { $0.softmax.shortRows = $1 }
        try tuneSoftmax(engine, &tuned, on: Self.longRows, launchCandidates) { $0.softmax.longRows = $1 }
        try tuneSoftmax(engine, &tuned, on: Self.shortRows, Self.workGroupSizes) { $0.softmax.shortRows.workGroupSize = $1 }
        try tuneSoftmax(engine, &tuned, on: Self.longRows, Self.workGroupSizes) { $0.softmax.longRows.workGroupSize = $1 }
        try tuneSoftmax(engine, &tuned, on: Self.shortRows, Self.shortRowVariants) { $0.softmax.shortRowsVariant = $1 }
        try tuneSoftmax(engine, &tuned, on: Self.longRows, Self.longRowVariants) { $0.softmax.longRowsVariant = $1 }
        try tuneSoftmax(engine, &tuned, on: Self.fewRows, Self.itemsPerComputeUnit) { $0.softmax.itemsPerComputeUnit = $1 }
    }

    func tuneTopK(_ engine: Engine, _ tuned: inout TuningParameters) throws {
        tuned.topK = .defaults
        let x = try engine.tensor(benchmarkInput(count: Self.topKRows.reduce(1, *)), shape: Self.topKRows)
        try tune(engine, &tuned, Self.rowsPerItem, { $0.topK.rowsPerItem = $1 },
                 label: "top-8 \(Self.topKRows) rows per item") { _ = try engine.softmaxTopK(x, k: 8) }
    }

    func tuneMatmul(_ engine: Engine, _ device: OpenCLDevice, _ tuned: inout TuningParameters) throws {
        let (m, n, k) = Self.matmulShape
        let a = try engine.tensor(benchmarkInput(count: m * k).map { $0 / 8 }, shape: [m, k])
        let b = try engine.tensor(benchmarkInput(count: k * n, seed: 7).map { $0 / 8 }, shape: [k, n])
        let c = try engine.matmul(a, b)
        let flops = 2 * Double(m * n * k)
        try tune(engine, &tuned, Self.matmulCandidates(for: device), { $0.matmul = $1 },
                 label: "matmul \(m)x\(n)x\(k) fp32", rate: { String(format: "%.1f GFLOP/s", flops / $0 / 1e6) }) {
            try engine.matmul(a, b, into: c)
        }
    }

    var launchCandidates: [SoftmaxLaunchParameters] {
        Self.rowsPerItem.flatMap { rows in Self.chunks.map { SoftmaxLaunchParameters(rowsPerItem: rows, chunk: $0) } }
    }

    /// The matmul tiles tried on `device`: for CPU devices one item per group with large
    /// register tiles around the CPU preset; for GPUs the CLBlast-style search space of
    /// `MatmulParameters.gpuSearchSpace` (its constraints checked before any build).
    /// Only valid sets that fit the device's work-group size and local memory.
    static func matmulCandidates(for device: OpenCLDevice) -> [MatmulParameters] {
        var grid: [MatmulParameters] = []
        if device.isCPU {
            for mwg in [64, 96, 192] {
                for nwg in [128, 256] {
                    for kwg in [128, 256] {
                        for (mr, nr) in [(12, 32), (8, 32), (6, 64)] {
                            grid.append(MatmulParameters(mwg: mwg, nwg: nwg, kwg: kwg, mdimc: 1, ndimc: 1, vwn: 16, mr: mr, nr: nr))
                        }
                    }
                }
            }
        } else {
            grid = MatmulParameters.gpuSearchSpace(maxWorkGroupSize: device.maxWorkGroupSize,
                                                   localMemoryBytes: device.localMemoryBytes)
        }
        return grid.filter {
            $0.isValid && $0.mdimc * $0.ndimc <= device.maxWorkGroupSize
                && ($0.mdimc * $0.ndimc == 1 || UInt64($0.kwg * ($0.mwg + $0.nwg) * 4) <= device.localMemoryBytes)
        }
    }

    /// Applies to `tuned` (with `apply`) the candidate with the lowest median softmax
    /// time on `shape` (auto variant).
    private func tuneSoftmax<Candidate>(_ engine: Engine, _ tuned: inout TuningParameters, on shape: [Int],
                                        _ candidates: [Candidate],
                                        _ apply: (inout TuningParameters, Candidate) -> Void) throws {
        let x = try engine.tensor(benchmarkInput(count: shape.reduce(1, *)), shape: shape)
        let y = try engine.softmax(x)
        try tune(engine, &tuned, candidates, apply, label: shape.description) { try engine.softmax(x, into: y) }
    }

    /// Walks `candidates` with `Tuner` (median device time of `body` per candidate) and
    /// applies the fastest to `tuned`, printing every candidate's time.
    private func tune<Candidate>(_ engine: Engine, _ tuned: inout TuningParameters, _ candidates: [Candidate],
                                 _ apply: (inout TuningParameters, Candidate) -> Void, label: String,
                                 rate: (Double) -> String = { _ in "" }, _ body: () throws -> Void) throws {
        let best = try Tuner.fastest(candidates, base: tuned, apply: apply, finalists: finalists, time: {
            try engine.medianDeviceMilliseconds(with: $0, repeat: `repeat`, body)
        }, report: { trial in
            switch trial.result {
            case let .success(ms): print(String(format: "  %@ %@: %.3f ms %@", label, "\(trial.candidate)", ms, rate(ms)))
            case let .failure(error): print("  \(label) \(trial.candidate): failed: \(error)")
            }
        })
        tuned = best.parameters
        try engine.useTuning(tuned)
        print("  best: \(best.winner)")
    }
}
