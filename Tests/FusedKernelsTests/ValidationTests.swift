import Foundation
import Testing
@testable import FusedKernels

/// Bad input is rejected with a typed error that names it, before anything is allocated
/// or run, and an output tensor is left untouched.
@Suite struct ValidationTests {
    static let backends = TestBackend.all.filter { !$0.isSimulator }

    /// Runs `body`, which must throw `expected`, and checks that `output` still holds poison.
    func expectRejected(_ expected: FusedKernelsError, output: Tensor? = nil, _ body: () throws -> Void,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(throws: expected, sourceLocation: sourceLocation) { try body() }
        if let output {
            #expect(try output.toArray().allSatisfy { $0.bitPattern == poison.bitPattern },
                    "output written before an error", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: backends)
    func rejectsBadShapesBeforeAllocating(backend: TestBackend) throws {
        let engine = try backend.engine()
        try expectRejected(.invalidShape(argument: "shape", shape: [], reason: "rank must be 1...4")) {
            _ = try engine.tensor([Float](), shape: [])
        }
        try expectRejected(.invalidShape(argument: "shape", shape: [1, 2, 3, 4, 5], reason: "rank must be 1...4")) {
            _ = try engine.empty(shape: [1, 2, 3, 4, 5], dtype: .float32)
        }
        try expectRejected(.invalidShape(argument: "shape", shape: [0, 8], reason: "every extent must be ≥ 1")) {
            _ = try engine.tensor([Float](), shape: [0, 8])
        }
        // The product overflows Int: rejected, never a trap.
        try expectRejected(.invalidShape(argument: "shape", shape: [1 << 40, 1 << 40],
                                         reason: "more than \(Tensor.maxElements) elements")) {
            _ = try engine.empty(shape: [1 << 40, 1 << 40], dtype: .float32)
        }
        // 8 values for 2^31 − 1 elements: the count is checked before 8 GiB are allocated.
        try expectRejected(.sizeMismatch(argument: "values", expected: Int(Int32.max), actual: 8)) {
            _ = try engine.tensor([Float](repeating: 1, count: 8), shape: [1, Int(Int32.max)])
        }
    }

    @Test(arguments: backends)
    func rejectsBadOperands(backend: TestBackend) throws {
        let engine = try backend.engine()
        let x = try engine.tensor([Float](repeating: 1, count: 16), shape: [2, 8])
        let y = try engine.tensor([Float](repeating: poison, count: 16), shape: [2, 8])
        let wrongMask = try engine.tensor([Float](repeating: 0, count: 5), shape: [5])
        try expectRejected(.shapeMismatch(argument: "additiveMask", expected: [2, 8], actual: [5]), output: y) {
            try engine.softmax(x, into: y, options: .init(additiveMask: wrongMask))
        }
        let floatKeep = try engine.tensor([Float](repeating: 1, count: 8), shape: [8])
        try expectRejected(.dtypeMismatch(argument: "keepMask", expected: .bool, actual: .float32), output: y) {
            try engine.softmax(x, into: y, options: .init(keepMask: floatKeep))
        }
        try expectRejected(.invalidArgument(argument: "scale", reason: "must be finite, got nan"), output: y) {
            try engine.softmax(x, into: y, options: .init(scale: .nan))
        }
        let indices = try engine.tensor([Int32](repeating: 0, count: 16), shape: [2, 8])
        try expectRejected(.dtypeMismatch(argument: "x", expected: .float32, actual: .int32), output: y) {
            try engine.softmax(indices, into: y)
        }
        try expectRejected(.shapeMismatch(argument: "y", expected: [2, 1], actual: [2, 8]), output: y) {
            try engine.softmax(x, into: y, kind: .logSumExp)
        }
        let half = try engine.tensor([Float16](repeating: 0, count: 16), shape: [2, 8])
        try expectRejected(.dtypeMismatch(argument: "y", expected: .float32, actual: .float16)) {
            try engine.softmax(x, into: half)
        }
        try expectRejected(.invalidArgument(argument: "y", reason: "must not share storage with an input")) {
            try engine.softmax(x, into: x)
        }
        let row = try engine.tensor([Float](repeating: poison, count: 8), shape: [8])
        try expectRejected(.invalidArgument(argument: "y", reason:
            "must be a view with dense, non-overlapping rows (no broadcast axis)"), output: row) {
            try engine.softmax(x, into: try row.broadcast(to: [2, 8]))
        }
        try expectRejected(.shapeMismatch(argument: "dy", expected: [2, 8], actual: [8])) {
            _ = try engine.softmaxBackward(output: x, gradient: row)
        }
        try expectRejected(.invalidArgument(argument: "kind", reason:
            "backward is defined for softmax and logSoftmax, not logSumExp")) {
            _ = try engine.softmaxBackward(output: x, gradient: x, kind: .logSumExp)
        }
        try expectRejected(.invalidArgument(argument: "k", reason: "9 exceeds the row length 8")) {
            _ = try engine.topK(x, k: 9)
        }
    }

    /// A tensor of another engine, alive or gone, is a typed error (ownership is an
    /// engine number that is never reused, not an object address), never a trap.
    @Test(arguments: backends)
    func rejectsForeignAndOrphanedTensors(backend: TestBackend) throws {
        let engine = try backend.engine()
        let foreign = try Engine(device: "cpu").tensor([Float](repeating: 1, count: 8), shape: [8])
        let mismatch = FusedKernelsError.deviceMismatch(argument: "x", tensorDevice: "another engine (host)",
                                                        engineDevice: engine.backend.description)
        try expectRejected(mismatch) { _ = try engine.softmax(foreign) }
        var orphans: [Tensor] = []
        for _ in 0 ..< 20 {
            let gone = try backend.engine()
            orphans.append(try gone.tensor([Float](repeating: 1, count: 8), shape: [8]))
        }
        for orphan in orphans {
            #expect(throws: FusedKernelsError.self) { _ = try backend.engine().softmax(orphan) }
        }
        try expectRejected(.deviceMismatch(argument: "additiveMask", tensorDevice: "another engine (host)",
                                           engineDevice: engine.backend.description)) {
            _ = try engine.softmax(try engine.tensor([Float](repeating: 1, count: 8), shape: [8]),
                                   options: .init(additiveMask: foreign))
        }
    }

    @Test func selectorThatMatchesNoDeviceIsAnError() throws {
        let available = try Engine.devices().map(\.description)
        #expect(throws: FusedKernelsError.deviceNotFound(selector: "no-such-device-xyz", available: available)) {
            _ = try Engine(device: "no-such-device-xyz")
        }
        #expect(throws: FusedKernelsError.deviceNotFound(selector: "opencl:999", available: available)) {
            _ = try Engine(device: "opencl:999")
        }
    }
}
