import ArgumentParser
import Foundation

/// `kernel-bench report`: a suite's records (run here, or read from JSON lines) as one SVG
/// chart per family and unit and a Markdown report embedding them.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Charts (SVG) and Benchmarks/RESULTS.md from a suite's records.",
        discussion: "Without --input, runs the suite in this process first (minutes). The report's notes and "
            + "compare sections (between <!-- notes:begin --> / <!-- notes:end --> and <!-- compare:begin --> / "
            + "<!-- compare:end -->) are carried over from the file it replaces."
    )

    @Option(help: "JSON lines of `kernel-bench suite --json` (default: run the suite here).") var input: String?
    @Option(help: deviceHelp) var device: String?
    @Option(help: "The suite's families, comma-separated (default: all).") var families: String?
    @Option(help: "Folder of the charts, <family>.svg.") var outDir = "Benchmarks/results"
    @Option(help: "The Markdown report to write.") var results = "Benchmarks/RESULTS.md"
    @Option(help: "The date in the report's heading (default: today, UTC).") var date: String?
    @Option(help: "The command the report names as the one that regenerates it.") var command = "make results"
    @Option(help: "Also write the records here as JSON lines (for --input later).") var saveRecords: String?

    func run() throws {
        let records = try input.map(Self.readRecords)
            ?? runSuite(device: device, families: try selectFamilies(families))
        guard !records.isEmpty else { throw ValidationError("no records to report") }
        if let saveRecords { try Self.writeRecords(records, to: saveRecords) }
        let charts = ThroughputChart.charts(records)
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        for chart in charts {
            try chart.svg().write(toFile: "\(outDir)/\(chart.name).svg", atomically: true, encoding: .utf8)
        }
        let folder = URL(fileURLWithPath: results).deletingLastPathComponent()
        let markdown = ResultsMarkdown(records: records, charts: charts, machine: .current(), date: date ?? Self.today,
                                       command: command, chartFolder: Self.relativePath(outDir, from: folder))
        let previous = try? String(contentsOfFile: results, encoding: .utf8)
        try markdown.text(keeping: previous).write(toFile: results, atomically: true, encoding: .utf8)
        let names = charts.map(\.name).joined(separator: ", ")
        print("\(records.count) records: \(charts.count) charts in \(outDir)/ (\(names)), report \(results)")
    }

    /// Records from JSON lines (`BenchRecord.decodeLines`), an error naming the file.
    static func readRecords(_ path: String) throws -> [BenchRecord] {
        do { return try BenchRecord.decodeLines(try String(contentsOfFile: path, encoding: .utf8)) }
        catch { throw ValidationError("\(path): not JSON lines of suite records: \(error)") }
    }

    /// JSON lines as `kernel-bench suite --json` prints them.
    static func writeRecords(_ records: [BenchRecord], to path: String) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try records.map { jsonLine($0) + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
    }

    private static var today: String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date())
    }

    /// `path` relative to `folder` (`results` for Benchmarks/results from Benchmarks/).
    static func relativePath(_ path: String, from folder: URL) -> String {
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let base = folder.standardizedFileURL.pathComponents
        let common = zip(target, base).prefix { $0 == $1 }.count
        let parts = Array(repeating: "..", count: base.count - common) + target.dropFirst(common)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}
