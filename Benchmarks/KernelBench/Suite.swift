import ArgumentParser
import FusedKernels

struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The default: every op family on its standard shapes (a size sweep per variant), on every device "
            + "and the CPU path, after each device's roofline.")

    @Option(help: deviceHelp) var device: String?
    @Option(help: "Only these families, comma-separated (default: all).") var families: String?
    @Option(help: "Timed repetitions for every measurement (default: each family's own).") var `repeat`: Int?
    @Option(help: "The kernel shape for every family and the roofline (default: each op's auto, by device type).")
    var preset: KernelPreset?
    @Flag(help: "Leave out the devices' roofline records (the families still measure the rooflines they report against).")
    var noRoofline = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        guard (`repeat` ?? 1) >= 1 else { throw ValidationError("--repeat must be ≥ 1") }
        let sink = RecordOutput(output.format)
        // Tables are printed a family at a time; JSON lines and CSV rows as each run ends, so a
        // run stopped by a time limit keeps what it finished.
        try runSuite(device: device, families: try selectFamilies(families), repeat: `repeat`, roofline: !noRoofline,
                     preset: preset, streaming: output.format != .table) { sink.emit($0) }
    }
}

/// The suite's records, handed to `emit` as each family finishes (as each run finishes when
/// `streaming`): first each engine's roofline (unless `roofline` is false), then every
/// family's `suiteArguments`.
@discardableResult
func runSuite(device: String?, families: [any BenchFamily.Type], repeat count: Int? = nil, roofline: Bool = true,
              preset: KernelPreset? = nil, streaming: Bool = false, emit: ([BenchRecord]) -> Void = { _ in }) throws -> [BenchRecord] {
    let engines = try benchmarkEngines(device)
    let common = (count.map { ["--repeat", "\($0)"] } ?? []) + (preset.map { ["--preset", $0.rawValue] } ?? [])
    let context = BenchContext()
    var all: [BenchRecord] = []
    let rooflines: [(name: String, records: () throws -> [BenchRecord])] =
        roofline ? [("roofline", { try RooflineBench.parse(common).records(on: engines, context: context) })] : []
    let runs = rooflines
        + families.flatMap { family in
            family.suiteArguments.map { arguments in
                (family.family, { try family.parse(arguments + common).records(on: engines, context: context) })
            }
        }
    var family = runs.first?.name
    var group: [BenchRecord] = []
    for (index, run) in runs.enumerated() {
        if run.name != family || streaming {
            if !group.isEmpty { emit(group) }
            (family, group) = (run.name, [])
        }
        Progress.show("[\(index + 1)/\(runs.count)] \(run.name)")
        let records = try run.records()
        group += records
        all += records
    }
    Progress.clear()
    if !group.isEmpty { emit(group) }
    return all
}

/// `--families a,b`: each a family's name; every family when not given.
func selectFamilies(_ list: String?) throws -> [any BenchFamily.Type] {
    guard let list else { return KernelBench.families }
    let names = KernelBench.families.map { $0.family }
    return try list.split(separator: ",").map { name in
        guard let index = names.firstIndex(of: String(name)) else {
            throw ValidationError("unknown family \(name); families: " + names.joined(separator: ", "))
        }
        return KernelBench.families[index]
    }
}
