import ArgumentParser
import Foundation
import FusedKernels
import Testing
@testable import KernelBench

/// A fresh directory, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("kernel-bench-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    var contents: Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []) }

    func write(_ array: NPYArray, _ name: String) throws {
        try NPY.encode(array).write(to: url.appendingPathComponent(name))
    }
}

/// `kernel-bench run <arguments>` in this process, as the executable would parse and run it.
func runCommand(_ arguments: [String]) throws {
    var command = try Run.parseAsRoot(arguments)
    try command.run()
}

/// The devices `run` is tested on: the CPU path and the first OpenCL device that is not a
/// simulator (Oclgrind is too slow for every op), when there is one.
let runTestDevices: [String] = {
    let device = ((try? Engine.devices()) ?? []).first { !$0.isSimulator }
    return ["cpu"] + (device.map { ["opencl:\($0.index)"] } ?? [])
}()

/// Deterministic values in [-2, 2), the same for the same seed.
func testValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0 ..< count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 24) * 4 - 2
    }
}
