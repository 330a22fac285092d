import Foundation

/// Benchmarks/RESULTS.md from a suite's records: the date and the command that regenerates
/// it, the machine, then per family its charts and a table of its records. The same records
/// give the same text (rows sorted, fixed number formats). The notes and compare sections,
/// written by hand and by `make compare`, are carried over from the previous file.
struct ResultsMarkdown {
    let records: [BenchRecord]
    let charts: [ThroughputChart]
    let machine: MachineDescription
    let date: String
    let command: String
    /// The charts' folder relative to the Markdown file.
    let chartFolder: String

    /// Sections kept from the previous file, between `<!-- name:begin -->` and `<!-- name:end -->`.
    static let keptSections = ["notes", "compare"]

    func text(keeping previous: String?) -> String {
        let kept = Dictionary(uniqueKeysWithValues: Self.keptSections.map { name in
            (name, previous.flatMap { Self.section(name, in: $0) } ?? Self.emptySection(name))
        })
        let families = Set(records.map(\.family)).sorted()
        var text = """
            # Benchmark results of \(date)

            Regenerate with `\(command)`: it runs `kernel-bench suite` (every family on a size sweep, on every \
            OpenCL device and the CPU path) and rewrites this file and the charts in `\(chartFolder)/`, keeping \
            the notes and comparison sections. Times are medians of the timed runs (p20–p80: their spread), \
            throughput is work / median, and each is judged against a roofline measured in the same run \
            (the faster copy kernel on the same bytes for GB/s; the FMA-peak kernel for GFLOP/s, OpenBLAS SGEMM \
            on the CPU path). Max error is against the CPU path. Compare numbers only within one run: these \
            machines are shared and medians move by 30–50 % between runs.

            Families: \(families.map { "[\($0)](#\(Self.anchor($0)))" }.joined(separator: ", ")).

            ## Machine

            \(machine.markdown)

            \(kept["notes"]!)

            """
        for family in families {
            text += "\n## \(family)\n\n"
            for chart in charts where chart.family == family {
                text += "![\(chart.name)](\(chartFolder)/\(chart.name).svg)\n\n"
            }
            text += table(records.filter { $0.family == family })
        }
        text += "\n## Against JAX and PyTorch\n\n" + kept["compare"]! + "\n"
        return text
    }

    static func begin(_ name: String) -> String { "<!-- \(name):begin -->" }
    static func end(_ name: String) -> String { "<!-- \(name):end -->" }

    /// The section with its markers, as it stands in `text`.
    static func section(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: begin(name)),
              let stop = text.range(of: end(name), range: start.upperBound ..< text.endIndex) else { return nil }
        return String(text[start.lowerBound ..< stop.upperBound])
    }

    private static func emptySection(_ name: String) -> String {
        let placeholder = name == "compare" ? "No comparison yet: `make compare` writes it here.\n" : ""
        return begin(name) + "\n" + placeholder + end(name)
    }

    /// GitHub's heading anchor for a family name.
    private static func anchor(_ heading: String) -> String {
        String(heading.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    private func table(_ records: [BenchRecord]) -> String {
        let header = "| op | variant | dtype | shape | device | median ms | p20–p80 ms | throughput | % of roofline "
            + "| max error |\n|---|---|---|---|---|--:|--:|--:|--:|--:|\n"
        let rows = records.sorted(by: Self.order).map { record in
            let cells = [record.op, record.variant, record.dtype,
                         record.shape.isEmpty ? "—" : record.shape.map(String.init).joined(separator: "×"),
                         record.shortDevice, Self.ms(record.medianMs),
                         record.p20Ms.isNaN ? "—" : "\(Self.ms(record.p20Ms))–\(Self.ms(record.p80Ms))",
                         String(format: "%.1f %@", record.throughput, record.unit),
                         String(format: "%.0f %% of %.1f (%@)", 100 * record.fractionOfRoofline, record.roofline,
                                record.rooflineSource),
                         record.maxError.map { String(format: "%.1e", $0) } ?? "—"]
            return "| " + cells.map(Self.cell).joined(separator: " | ") + " |\n"
        }
        return header + rows.joined()
    }

    /// Rows by unit, op, variant, dtype, device, then size.
    static func order(_ a: BenchRecord, _ b: BenchRecord) -> Bool {
        let (keyA, keyB) = ((a.unit, a.op, a.variant, a.dtype, a.device), (b.unit, b.op, b.variant, b.dtype, b.device))
        return keyA != keyB ? keyA < keyB : (a.work, a.shapeLabel) < (b.work, b.shapeLabel)
    }

    /// Milliseconds to 3–4 significant digits; "—" for the roofline family's fma-peak (no timings).
    private static func ms(_ value: Double) -> String {
        value.isNaN ? "—" : String(format: value < 10 ? "%.3f" : value < 100 ? "%.2f" : "%.1f", value)
    }

    /// Table cell text: pipes escaped, and HTML's specials so that a name renders as written.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "|", with: "\\|")
    }
}
