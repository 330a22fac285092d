import Foundation
import Testing
@testable import KernelBench

/// Files written and read by NumPy itself: every op's inputs written by
/// `numpy.lib.format.write_array` (format 1.0, then 2.0), run on the CPU path and compared
/// with the library's result bit for bit; then NumPy loads each output and checks its
/// dtype, shape and bytes. Without NumPy the test is skipped, unless
/// FUSED_KERNELS_EXPECT_NUMPY=1 (as `make test` sets), where it fails.
@Suite struct NumPyRoundTripTests {
    static let numpyFound = (try? python(["-c", "import numpy"])) != nil
    static let numpyExpected = ProcessInfo.processInfo.environment["FUSED_KERNELS_EXPECT_NUMPY"] == "1"

    /// `write MANIFEST`: each {raw, dtype, shape, path} to a .npy file of format `version`;
    /// `check MANIFEST`: each .npy file's dtype, shape and bytes against its raw bytes.
    static let script = """
        import json, sys
        import numpy as np
        mode, manifest = sys.argv[1], json.load(open(sys.argv[2]))
        failures = []
        for f in manifest["files"]:
            raw = np.frombuffer(open(f["raw"], "rb").read(), dtype=np.dtype(f["dtype"])).reshape(f["shape"])
            if mode == "write":
                with open(f["path"], "wb") as out:
                    np.lib.format.write_array(out, raw, version=tuple(manifest["version"]))
                continue
            a = np.load(f["path"])
            if a.dtype.str != raw.dtype.str or a.shape != raw.shape or a.tobytes() != raw.tobytes():
                failures.append(f"{f['path']}: {a.dtype.str} {a.shape}, expected {raw.dtype.str} {raw.shape} and equal bytes")
        sys.exit("\\n".join(failures) if failures else 0)
        """

    @Test(.enabled(if: numpyFound || numpyExpected, "python3 -c 'import numpy' fails (FUSED_KERNELS_EXPECT_NUMPY unset)"),
          arguments: [[1, 0], [2, 0]])
    func numpyFilesInAndOut(version: [Int]) throws {
        try #require(Self.numpyFound, "python3 -c 'import numpy' fails, and FUSED_KERNELS_EXPECT_NUMPY=1")
        let directories = try RunOpCase.all.map { _ in try TemporaryDirectory() }
        var inputs: [[String: Any]] = []
        for (opCase, directory) in zip(RunOpCase.all, directories) {
            for (flag, array) in opCase.inputs { inputs.append(try Self.entry(array, "\(flag).npy", in: directory)) }
        }
        try Self.runScript("write", version: version, files: inputs)
        var outputs: [[String: Any]] = []
        for (opCase, directory) in zip(RunOpCase.all, directories) {
            let expected = try opCase.runAndCompare(device: "cpu", in: directory)
            for flag in opCase.outputs { outputs.append(try Self.entry(try #require(expected[flag]), "\(flag).npy", in: directory)) }
        }
        try Self.runScript("check", version: version, files: outputs)
    }

    /// A manifest entry for `array` at `name`, its raw bytes written beside it.
    static func entry(_ array: NPYArray, _ name: String, in directory: TemporaryDirectory) throws -> [String: Any] {
        let raw = directory.path(name + ".raw")
        try array.data.write(to: URL(fileURLWithPath: raw))
        return ["raw": raw, "dtype": array.dtype.rawValue, "shape": array.shape, "path": directory.path(name)]
    }

    static func runScript(_ mode: String, version: [Int], files: [[String: Any]]) throws {
        let directory = try TemporaryDirectory()
        let manifest = directory.url.appendingPathComponent("manifest.json")
        try JSONSerialization.data(withJSONObject: ["version": version, "files": files]).write(to: manifest)
        try python(["-c", script, mode, manifest.path])
    }

    /// Runs python3; throws with its standard error unless it exits 0.
    @discardableResult
    static func python(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let (output, errors) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (output, errors)
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RunError("python3 exited \(process.terminationStatus): \(problems)") }
        return text
    }
}
