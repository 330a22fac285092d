import ArgumentParser
import Foundation
import FusedKernels
import Testing
@testable import KernelBench

/// `kernel-bench parity`: the comparison fails on poisoned outputs, the table lays out
/// devices × ops, and the real run passes on PoCL's pthread device with both presets.
@Suite struct ParityTests {
    static let tolerance = Tolerance(atol: 1e-6, rtol: 1e-5)
    static let reference: [Float] = [1, -2.5, 0, 3e-4, .infinity, -.infinity, .nan]

    @Test func identicalOutputsPass() {
        #expect(Self.tolerance.worstRatio(Self.reference, Self.reference) == 0)
    }

    @Test func anElementTenTolerancesOffFails() {
        var poisoned = Self.reference
        poisoned[1] += Float(10 * (Self.tolerance.atol + Self.tolerance.rtol * 2.5))
        let ratio = Self.tolerance.worstRatio(poisoned, Self.reference)
        #expect(ratio > 9 && ratio < 11)
        let comparison = ParityComparison(device: [.floats("y", poisoned, Self.tolerance)],
                                          reference: [.floats("y", Self.reference, Self.tolerance)])
        #expect(!comparison.passes && comparison.worstOutput == "y")
    }

    /// NaN for a number, a number for NaN, a finite value or the other infinity for ±inf.
    @Test(arguments: [(0, Float.nan), (6, 1), (4, 3e38), (5, .infinity)])
    func specialValuesMustMatch(index: Int, value: Float) {
        var poisoned = Self.reference
        poisoned[index] = value
        #expect(Self.tolerance.worstRatio(poisoned, Self.reference) == .infinity)
    }

    @Test func exactToleranceFailsOnAnyDifference() {
        #expect(Tolerance.exact.worstRatio([1, 2.0000002], [1, 2]) == .infinity)
        #expect(Tolerance.exact.worstRatio([1, 2], [1, 2]) == 0)
        #expect(Tolerance.exact.worstRatio([1], [1, 2]) == .infinity)
    }

    @Test func aSwappedTopKIndexFails() {
        let values: ParityOutput = .floats("values", [0.5, 0.25], Self.tolerance)
        let comparison = ParityComparison(device: [values, .indices("indices", [3, 7])],
                                          reference: [values, .indices("indices", [7, 3])])
        #expect(!comparison.passes)
        #expect(comparison.worstOutput == "indices" && comparison.tolerance == nil)
        #expect(!ParityComparison(device: [values], reference: [values, .indices("indices", [7, 3])]).passes)
    }

    static func record(_ device: String, _ op: String, _ ratio: Double?, skipped: Bool = false) -> ParityRecord {
        var record = ParityRecord(device: device, deviceType: "cpu", preset: "gpu", op: op, variant: "plain",
                                  dtype: "float16", shape: [7, 17])
        if skipped {
            record.skipped = "over 20000 elements on a simulator"
        } else {
            (record.maxError, record.output, record.tolerance) = (ratio, "y", Self.tolerance)
            record.pass = ratio.map { $0 <= 1 } ?? false
            if ratio == nil { record.error = "boom" }
        }
        return record
    }

    @Test func tableHasACaseRowAndADeviceColumnEach() {
        let (a, b) = ("opencl:1 basic-haswell [Portable Computing Language]", "opencl:2 pthread-haswell [PoCL]")
        let records = [Self.record(a, "softmax", 0.25), Self.record(a, "matmul", 3), Self.record(b, "softmax", 0.5),
                       Self.record(b, "matmul", nil, skipped: true)]
        let lines = ParityTable(records: records).lines()
        #expect(lines[0].hasPrefix("op") && lines[0].contains("tolerance"))
        #expect(lines[0].contains("opencl:1 basic") && lines[0].contains("opencl:2 pthread"))
        let softmax = lines[1], matmul = lines[2]
        #expect(softmax.hasPrefix("softmax") && softmax.contains("0.250 ok") && softmax.contains("0.500 ok"))
        #expect(matmul.hasPrefix("matmul") && matmul.contains("3.000 FAIL") && matmul.contains("skipped"))
        // Cells of one device start in the same column on every row.
        #expect(softmax.range(of: "0.500")?.lowerBound.utf16Offset(in: softmax)
            == matmul.range(of: "skipped")?.lowerBound.utf16Offset(in: matmul))
        #expect(lines.contains { $0.hasPrefix("FAIL \(a): matmul") && $0.contains("3.000× tolerance") })
        #expect(lines.contains { $0.hasPrefix("skipped on opencl:2 pthread") })
        #expect(!lines.contains { $0.hasPrefix("FAIL \(b)") })
    }

    @Test func jsonLinesHaveEveryKeyAndRoundTrip() throws {
        let records = [Self.record("d", "softmax", .infinity), Self.record("d", "topK", nil, skipped: true)]
        let lines = records.map(jsonLine)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["device", "device_type", "preset", "op", "variant", "dtype", "shape", "max_error",
                                     "output", "tolerance", "pass", "skipped", "error"])
        #expect(try ParityRecord.decodeLines(lines.joined(separator: "\n")) == records)
    }

    /// `--quick` (the GPU check's short slot): float32 only, every op kept, at most
    /// `quickCasesPerOp` cases each, in the full set's order.
    @Test func theQuickSetKeepsEveryOpInFloat32() {
        let all = ParityCase.all, quick = ParityCase.quick(all)
        #expect(Set(quick.map(\.op)) == Set(all.map(\.op)))
        #expect(quick.allSatisfy { $0.dtype == .float32 })
        #expect(Dictionary(grouping: quick, by: \.op).values.allSatisfy { $0.count <= ParityCase.quickCasesPerOp })
        #expect(quick.count < all.count / 3)
    }

    @Test func anUnknownOpIsAnError() {
        #expect(throws: ValidationError.self) { try ParityCase.selected("softmax,sofmax") }
        #expect((try? ParityCase.selected("copy"))?.allSatisfy { $0.op == "copy" } == true)
    }

    @Test func noOpenCLDeviceSelectedExitsWithStatusOne() throws {
        var command = try Parity.parseAsRoot(["--device", "cpu"])
        #expect(throws: ExitCode(1)) { try command.run() }
    }

    static let pthread = ((try? Engine.devices()) ?? []).first { $0.name.contains("pthread") }

    /// A real run on PoCL's pthread device, both presets: the ops whose GPU shape this
    /// package's softmax-family kernels give (the others' presets have their own suites),
    /// through the command's own case selection.
    @Test(.enabled(if: pthread != nil), arguments: [KernelPreset.gpu, .cpu])
    func passesOnPThread(preset: KernelPreset) throws {
        let engines = try parityEngines("pthread", preset: preset)
        #expect(engines.count == 1)
        let ops: Set = ["logSumExp", "logSoftmax-backward", "normalizer-merge", "softmaxTopK", "copy"]
        let cases = try ParityCase.selected(ops.sorted().joined(separator: ","))
        let records = try ParityRunner(cases: cases, preset: preset).run(on: try #require(engines.first))
        for record in records where record.failed { Issue.record("\(failureLabel(record))") }
        #expect(records.allSatisfy { $0.pass == true && $0.preset == preset.rawValue })
        #expect(Set(records.map(\.op)) == ops)
        let decoded = try ParityRecord.decodeLines(records.map(jsonLine).joined(separator: "\n"))
        #expect(decoded.count == records.count)
    }
}
