import ArgumentParser
import Foundation
import Testing
@testable import KernelBench

/// Every malformed input is one line on standard error naming the file and the problem, a
/// non-zero exit, and no output file (nor temporary file) left behind.
@Suite struct MalformedFileTests {
    /// A malformed `--x` (or `--keep-mask`) of `run softmax` on x = [3, 5].
    struct BadFile: CustomTestStringConvertible, Sendable {
        let name: String
        let flag: String
        let bytes: Data
        /// Words the message must hold besides the file's name.
        let problem: String
        var testDescription: String { name }
    }

    static let x = f4(testValues(15, seed: 40), [3, 5])

    /// A .npy file with this header dict and data, padded as NumPy pads it.
    static func file(_ dict: String, _ data: Data, version: UInt8 = 1) -> Data {
        let unpadded = dict.utf8.count + 1 + (version == 1 ? 10 : 12)
        let header = Array((dict + String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n").utf8)
        let length: [UInt8] = (0 ..< (version == 1 ? 2 : 4)).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        var file = NPY.magic
        file.append(contentsOf: [version, 0] + length + header)
        return file + data
    }

    static let bad: [BadFile] = {
        let valid = NPY.encode(x)
        let floats = x.data
        return [
            BadFile(name: "truncated header", flag: "x", bytes: valid.prefix(40), problem: "truncated header"),
            BadFile(name: "truncated data", flag: "x", bytes: valid.dropLast(4), problem: "data truncated"),
            BadFile(name: "trailing data", flag: "x", bytes: valid + Data([0, 0, 0, 0]), problem: "trailing data"),
            BadFile(name: "unknown dtype <f8", flag: "x",
                    bytes: file("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 5), }", floats + floats),
                    problem: "unsupported dtype '<f8'"),
            BadFile(name: "big-endian >f4", flag: "x",
                    bytes: file("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 5), }", floats), problem: "big-endian"),
            BadFile(name: "Fortran order", flag: "x",
                    bytes: file("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 5), }", floats), problem: "Fortran"),
            BadFile(name: "bad magic", flag: "x", bytes: Data("\u{7F}NUMPY".utf8) + valid.dropFirst(6), problem: "bad magic"),
            BadFile(name: "missing key", flag: "x", bytes: file("{'descr': '<f4', 'shape': (3, 5), }", floats),
                    problem: "no 'fortran_order' key"),
            BadFile(name: "shape mismatch between inputs", flag: "keep-mask",
                    bytes: NPY.encode(b1([true, false, true, true], [4])), problem: "expected shape [3, 5], got [4]"),
            BadFile(name: "bool byte other than 0 or 1", flag: "keep-mask",
                    bytes: file("{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }", Data([1, 0, 2, 1, 1])),
                    problem: "element 2 is the byte 2, not a bool"),
            BadFile(name: "rank 0", flag: "x", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", floats.prefix(4)),
                    problem: "rank 0"),
            BadFile(name: "rank 5", flag: "x", bytes: NPY.encode(f4(Array(repeating: 1, count: 2), [1, 1, 1, 1, 2])),
                    problem: "rank 5"),
        ]
    }()

    @Test(arguments: bad)
    func isOneLineNamingTheFileAndNothingIsWritten(_ bad: BadFile) throws {
        let directory = try TemporaryDirectory()
        if bad.flag != "x" { try directory.write(Self.x, "x.npy") }
        try bad.bytes.write(to: directory.url.appendingPathComponent("bad.npy"))
        var inputs = ["--x", directory.path(bad.flag == "x" ? "bad.npy" : "x.npy")]
        if bad.flag != "x" { inputs += ["--\(bad.flag)", directory.path("bad.npy")] }
        let before = directory.contents
        let error = try #require(throws: (any Error).self) {
            try runCommand(["softmax", "--device", "cpu", "--out", directory.path("y.npy")] + inputs)
        }
        let message = KernelBench.fullMessage(for: error)
        #expect(!message.contains("\n"), "\(message)")
        #expect(message.hasPrefix("Error: \(directory.path("bad.npy")) (--\(bad.flag)): "), "\(message)")
        #expect(message.contains(bad.problem), "\(message)")
        #expect(KernelBench.exitCode(for: error) != .success)
        #expect(directory.contents == before, "an output or temporary file was left")
    }

    @Test func int64TargetOutsideInt32() throws {
        let directory = try TemporaryDirectory()
        try directory.write(f4(testValues(8, seed: 44), [2, 4]), "e.npy")
        try directory.write(f4(testValues(12, seed: 45), [3, 4]), "c.npy")
        try directory.write(NPYArray([Int64(1), 1 << 32], dtype: .int64, shape: [2]), "t.npy")
        let error = try #require(throws: (any Error).self) {
            try runCommand(["cross-entropy", "--device", "cpu", "--embeddings", directory.path("e.npy"),
                            "--classifier", directory.path("c.npy"), "--targets", directory.path("t.npy"),
                            "--out", directory.path("loss.npy")])
        }
        #expect(KernelBench.fullMessage(for: error)
            == "Error: \(directory.path("t.npy")) (--targets): element 1 is 4294967296, outside int32")
        #expect(!directory.contents.contains("loss.npy"))
    }

    /// A library error in a multi-output op: neither output appears.
    @Test func noOutputOnALibraryError() throws {
        let directory = try TemporaryDirectory()
        try directory.write(f4(testValues(40, seed: 41), [1, 2, 5, 4]), "q.npy")
        try directory.write(f4(testValues(24, seed: 42), [1, 1, 6, 4]), "k.npy")
        try directory.write(f4(testValues(20, seed: 43), [1, 1, 5, 4]), "v.npy")
        let before = directory.contents
        let error = try #require(throws: (any Error).self) {
            try runCommand(["attention", "--device", "cpu", "--q", directory.path("q.npy"), "--k", directory.path("k.npy"),
                            "--v", directory.path("v.npy"), "--out", directory.path("o.npy"), "--lse-out", directory.path("l.npy")])
        }
        #expect(KernelBench.fullMessage(for: error).hasPrefix("Error: \(directory.path("v.npy")) (--v): value: expected shape"))
        #expect(directory.contents == before)
    }

    /// The executable itself: the message on standard error, one line, exit status 1.
    @Test func executableReportsOnStandardError() throws {
        let directory = try TemporaryDirectory()
        try NPY.encode(Self.x).dropLast(4).write(to: directory.url.appendingPathComponent("x.npy"))
        let executable = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/kernel-bench")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["run", "softmax", "--device", "cpu", "--x", directory.path("x.npy"), "--out", directory.path("y.npy")]
        let (output, errors) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (output, errors)
        try process.run()
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1)
        #expect(stderr == "Error: \(directory.path("x.npy")) (--x): data truncated: shape [3, 5] of <f4 needs 60 bytes, "
            + "the file holds 56\n")
        #expect(output.fileHandleForReading.readDataToEndOfFile().isEmpty)
        #expect(directory.contents == ["x.npy"])
    }
}
