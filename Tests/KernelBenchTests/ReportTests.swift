import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import KernelBench

/// `kernel-bench report`: its charts parse as SVG and show every series and roofline, its
/// Markdown lists every record and keeps the hand-written sections, and both are the same
/// text for the same records.
@Suite struct ReportTests {
    let records = ReportFixtures.records
    var charts: [ThroughputChart] { ThroughputChart.charts(records) }

    func markdown(_ records: [BenchRecord], keeping previous: String? = nil) -> String {
        ResultsMarkdown(records: records, charts: ThroughputChart.charts(records), machine: ReportFixtures.machine,
                        date: "2026-12-02", command: "make results", chartFolder: "results").text(keeping: previous)
    }

    /// An attribute by name (`attribute(forName:)` finds none under a default namespace on Linux).
    func attribute(_ element: XMLElement, _ name: String) -> String? {
        element.attributes?.first { $0.name == name }?.stringValue
    }

    @Test func oneChartPerFamilyAndUnitMeasuredOnSeveralSizes() {
        #expect(charts.map(\.name) == ["attention-gbps", "attention-gflops", "matmul", "softmax"])
    }

    @Test func everyChartIsSVGWithEverySeriesAndRoofline() throws {
        for chart in charts {
            let document = try XMLDocument(xmlString: chart.svg(), options: [])
            let root = try #require(document.rootElement())
            #expect(root.localName == "svg" && root.uri == "http://www.w3.org/2000/svg", "\(chart.name)")
            #expect(attribute(root, "viewBox")?.hasPrefix("0 0 960 ") == true)

            let series = try root.nodes(forXPath: "//*[local-name()='g'][@class='series']")
                .compactMap { $0 as? XMLElement }
            let drawn = Set(series.map { [attribute($0, "data-device") ?? "", attribute($0, "data-label") ?? ""] })
            let expected = Set(chart.records.map { [$0.device, chart.label(of: $0)] })
            #expect(drawn == expected, "\(chart.name)")
            #expect(expected.count == ReportFixtures.devices.count * Set(chart.records.map(\.variant)).count)
            for element in series {
                let polyline = element.children?.compactMap { $0 as? XMLElement }.first { $0.localName == "polyline" }
                let points = try #require(polyline.flatMap { attribute($0, "points") })
                #expect(points.split(separator: " ").count == chart.records.filter {
                    $0.device == attribute(element, "data-device")
                        && chart.label(of: $0) == attribute(element, "data-label")
                }.count)
            }

            let rooflines = try root.nodes(forXPath: "//*[local-name()='line'][@class='roofline']")
                .compactMap { ($0 as? XMLElement).flatMap { attribute($0, "data-device") } }
            #expect(rooflines.sorted() == ReportFixtures.devices.map(\.0).sorted(), "\(chart.name)")

            let texts = try root.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
            #expect(texts.contains { $0.contains("per run (log scale)") })
            #expect(texts.contains { $0.contains("(log scale)") && $0.contains(chart.unit) })
        }
    }

    @Test func textIsEscaped() throws {
        let softmax = try #require(charts.first { $0.family == "softmax" })
        let svg = softmax.svg()
        #expect(svg.contains("a&lt;&amp;&gt;b &quot;quoted&quot;"))
        #expect(!svg.contains(ReportFixtures.awkwardVariant))
        let document = try XMLDocument(xmlString: svg, options: [])
        let texts = try document.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
        #expect(texts.contains("softmax " + ReportFixtures.awkwardVariant))
    }

    @Test func axesAreTickedAtPowersOfTen() {
        let axis = LogAxis([3e6, 4e8], from: 0, to: 100)
        #expect(axis.ticks.filter(\.major).map(\.value) == [1e6, 1e7, 1e8, 1e9])
        #expect(axis.position(1e6) == 0 && axis.position(1e9) == 100)
        let narrow = LogAxis([20, 45], from: 0, to: 100)
        #expect(narrow.ticks.map(\.value) == [10, 20, 50, 100])
    }

    @Test func markdownHasEveryRecordAndChart() {
        let text = markdown(records)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| op ") }
        #expect(rows.count == records.count)
        for record in records {
            let cells = [record.op, ResultsMarkdown.cell(record.variant),
                         record.shape.map(String.init).joined(separator: "×"), record.shortDevice,
                         String(format: "%.1f %@", record.throughput, record.unit)]
            #expect(rows.contains { row in cells.allSatisfy { row.contains("| \($0) |") } }, "\(record)")
        }
        for chart in charts { #expect(text.contains("![\(chart.name)](results/\(chart.name).svg)")) }
        #expect(text.contains("a&lt;&amp;&gt;b"))
        #expect(text.hasPrefix("# Benchmark results of 2026-12-02"))
        #expect(text.contains("`make results`"))
        #expect(text.contains(ReportFixtures.machine.markdown))
    }

    @Test func notesAndCompareSectionsAreKept() {
        let compare = "<!-- compare:begin -->\nMeasured 2026-12-02:\n\n| case | ours |\n|---|---|\n| x | 1 |\n"
            + "<!-- compare:end -->"
        let notes = "<!-- notes:begin -->\nThe machine was loaded.\n<!-- notes:end -->"
        let previous = "# old\n\n" + notes + "\n\nold tables\n\n" + compare + "\ntrailing\n"
        let text = markdown(records, keeping: previous)
        #expect(text.contains(compare) && text.contains(notes))
        #expect(!text.contains("old tables"))
        #expect(markdown(records, keeping: text) == text)

        let fresh = markdown(records)
        #expect(ResultsMarkdown.section("compare", in: fresh)?.contains("make compare") == true)
        #expect(ResultsMarkdown.section("notes", in: fresh) == "<!-- notes:begin -->\n<!-- notes:end -->")
    }

    @Test func sameRecordsGiveTheSameText() {
        var shuffled = records
        var generator = SystemRandomNumberGenerator()
        shuffled.shuffle(using: &generator)
        #expect(markdown(shuffled) == markdown(records))
        #expect(ThroughputChart.charts(shuffled).map { $0.svg() } == charts.map { $0.svg() })
    }

    @Test func recordsAreReadFromJSONLines() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try ReportCommand.writeRecords(records, to: url.path)
        let written = try String(contentsOf: url, encoding: .utf8)
        try (written + "\n" + ReportFixtures.suiteLine + "\n").write(to: url, atomically: true, encoding: .utf8)
        let read = try ReportCommand.readRecords(url.path)
        #expect(Array(read.prefix(records.count)) == records)
        let topk = try #require(read.last)
        #expect(topk.family == "topk" && topk.maxError == nil && topk.details["unfused_ms"] == .text("n/a"))

        try (written + "not json\n").write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try ReportCommand.readRecords(url.path) }
    }

    @Test func chartLinksAreRelativeToTheReport() {
        let benchmarks = URL(fileURLWithPath: "/repo/Benchmarks")
        #expect(ReportCommand.relativePath("/repo/Benchmarks/results", from: benchmarks) == "results")
        #expect(ReportCommand.relativePath("/tmp/charts", from: benchmarks) == "../../tmp/charts")
    }
}
