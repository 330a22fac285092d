import Foundation
import FusedKernels
import Testing
@testable import KernelBench

/// The one schema: every format prints the same fields, JSON lines read back exactly, and
/// every family's suite configuration parses.
@Suite struct RecordOutputTests {
    static let record = BenchRecord(
        family: "softmax", op: "softmax", variant: "auto, \"quoted\" | piped", dtype: "float32", shape: [4, 300],
        device: "opencl:1 pthread-x [PoCL]", deviceType: "cpu", medianMs: 0.5, p20Ms: 0.4, p80Ms: 0.75, minMs: 0.25,
        firstCallMs: 12, unit: "GB/s", work: 9600, throughput: 0.0192, roofline: 40, rooflineSource: "copy",
        fractionOfRoofline: 0.00048, maxError: 1.5e-7, errorMetric: "relative", ranOn: "softmax/block.cl:softmax_block",
        kernels: ["softmax/block.cl:softmax_block -DDTYPE=0"],
        details: ["speedup": .number(1.25), "indices_match": .flag(true), "omitted": .text("a, b")])

    @Test func jsonKeysAreTheColumns() throws {
        let line = RecordOutput(.json).render([Self.record])
        #expect(line.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line[0].utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(RecordOutput.columns))
    }

    @Test func jsonLinesRoundTrip() throws {
        var unmeasured = Self.record
        (unmeasured.medianMs, unmeasured.maxError) = (.nan, nil)
        let lines = RecordOutput(.json).render([Self.record, unmeasured])
        let decoded = try BenchRecord.decodeLines(lines.joined(separator: "\n") + "\n")
        #expect(decoded.count == 2)
        #expect(decoded[0] == Self.record)
        #expect(decoded[1].medianMs.isNaN && decoded[1].maxError == nil)
    }

    @Test func csvHasOneHeaderAndQuotedFields() throws {
        let output = RecordOutput(.csv)
        let first = output.render([Self.record])
        let second = output.render([Self.record])
        #expect(first.count == 2 && second.count == 1)
        #expect(first[0] == RecordOutput.columns.joined(separator: ","))
        #expect(first[1].contains("\"auto, \"\"quoted\"\" | piped\""))
        #expect(first[1].contains("4x300"))
    }

    @Test func markdownEscapesPipes() {
        let lines = RecordOutput(.markdown).render([Self.record])
        #expect(lines.count == 3)
        #expect(lines[2].contains("piped") && lines[2].contains("\\|"))
        // Unescaped separators: one per column plus the leading one.
        let separators = lines[2].replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
        #expect(separators == RecordOutput.columns.count + 1)
    }

    @Test func tableAlignsColumnsAndShowsNotes() {
        var other = Self.record
        other.medianMs = 1234.5
        let lines = RecordOutput(.table).render([Self.record, other])
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("op "))
        #expect(lines[1].contains("1.25x vs unfused"))
        // Right-aligned medians end in the same column.
        let end = { (line: String, text: String) in line.range(of: text).map { line.distance(from: line.startIndex, to: $0.upperBound) } }
        #expect(end(lines[1], "0.500") == end(lines[2], "1234.500"))
    }

    @Test func percentilesAreNearestRank() {
        let timings = Timings(samples: [5, 1, 4, 2, 3], firstCall: 9, kernels: [])
        #expect(timings.percentile(20) == 1)
        #expect(timings.percentile(80) == 4)
        #expect(timings.median == 3)
    }

    @Test func everySuiteConfigurationParses() throws {
        for family in KernelBench.families {
            #expect(!family.suiteArguments.isEmpty, "\(family.family) has no suite configuration")
            for arguments in family.suiteArguments {
                #expect(throws: Never.self, "\(family.family) \(arguments)") { _ = try family.parse(arguments) }
            }
        }
    }

    @Test func unknownFamilyIsRefused() {
        #expect(throws: (any Error).self) { try selectFamilies("softmax,nope") }
    }

    /// One small real measurement per family on the CPU path: finite throughput and roofline.
    @Test func familiesMeasureOnTheCPUPath() throws {
        let cpu = try Engine(device: "cpu")
        let small: [(any BenchFamily.Type, [String])] = [
            (SoftmaxBench.self, ["--rows", "3", "--cols", "50", "--repeat", "2"]),
            (SoftmaxBench.self, ["--rows", "3", "--cols", "50", "--repeat", "2", "--backward"]),
            (NormalizerBench.self, ["--rows", "3", "--cols", "50", "--repeat", "2", "--op", "logSumExp-backward"]),
            (TopKBench.self, ["--rows", "3", "--cols", "50", "--k", "4", "--repeat", "2"]),
            (MatmulBench.self, ["--m", "5", "--n", "6", "--k", "7", "--repeat", "2"]),
            (CrossEntropyBench.self, ["--n", "4", "--d", "8", "--v", "30", "--repeat", "1", "--backward"]),
            (AttentionBench.self, ["--lq", "9", "--d", "16", "--h", "2", "--repeat", "1", "--causal"]),
        ]
        let context = BenchContext()
        for (family, arguments) in small {
            let records = try family.parse(arguments).records(on: [cpu], context: context)
            #expect(!records.isEmpty)
            for record in records {
                #expect(record.family == family.family && record.device == "cpu" && record.ranOn == "CPU path")
                #expect(record.throughput.isFinite && record.throughput > 0 && record.roofline > 0, "\(record)")
                #expect(record.p20Ms <= record.medianMs && record.medianMs <= record.p80Ms)
            }
        }
    }
}
