import Foundation
import Testing
@testable import FusedKernels

/// Bad input is rejected with a typed error before any kernel runs, and the output
/// buffer is left untouched.
@Suite struct ValidationTests {
    let shape = Shape(rows: 2, cols: 8)

    func forward(_ engine: Engine, x: [Float], shape: Shape, outputCount: Int? = nil, kind: SoftmaxKind = .softmax,
                 options: SoftmaxOptions = .init()) throws -> [Float] {
        var y = [Float](repeating: poison, count: outputCount ?? kind.outputCount(shape))
        defer { #expect(y.allSatisfy { $0.bitPattern == poison.bitPattern }, "output written before an error") }
        try x.withUnsafeBufferPointer { x in
            try y.withUnsafeMutableBufferPointer { y in
                _ = try engine.softmax(x, shape: shape, into: y, kind: kind, options: options)
            }
        }
        return y
    }

    @Test(arguments: TestBackend.all.filter { !$0.isSimulator })
    func rejectsBadInputBeforeRunning(backend: TestBackend) throws {
        let engine = try backend.engine()
        let x = [Float](repeating: 1, count: 16)
        #expect(throws: FusedKernelsError.invalidShape(argument: "x", rows: 0, cols: 8)) {
            _ = try forward(engine, x: [], shape: Shape(rows: 0, cols: 8), outputCount: 0)
        }
        #expect(throws: FusedKernelsError.sizeMismatch(argument: "x", expected: 16, actual: 15)) {
            _ = try forward(engine, x: Array(x.dropLast()), shape: shape)
        }
        #expect(throws: FusedKernelsError.sizeMismatch(argument: "y", expected: 2, actual: 16)) {
            _ = try forward(engine, x: x, shape: shape, outputCount: 16, kind: .logSumExp)
        }
        #expect(throws: FusedKernelsError.maskShapeMismatch(argument: "additiveMask", count: 5, rows: 2, cols: 8)) {
            _ = try forward(engine, x: x, shape: shape, options: .init(additiveMask: [0, 0, 0, 0, 0]))
        }
        #expect(throws: FusedKernelsError.maskShapeMismatch(argument: "keepMask", count: 9, rows: 2, cols: 8)) {
            _ = try forward(engine, x: x, shape: shape, options: .init(keepMask: [Bool](repeating: true, count: 9)))
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "scale", reason: "must be finite, got nan")) {
            _ = try forward(engine, x: x, shape: shape, options: .init(scale: .nan))
        }
        #expect(throws: FusedKernelsError.self) {
            _ = try forward(engine, x: x, shape: Shape(rows: 1 << 20, cols: 1 << 20), outputCount: 1)
        }
    }

    @Test(arguments: TestBackend.all.filter { !$0.isSimulator })
    func rejectsBadBackwardAndForeignTensors(backend: TestBackend) throws {
        let engine = try backend.engine()
        let y = [Float](repeating: 0.125, count: 16)
        #expect(throws: FusedKernelsError.sizeMismatch(argument: "dy", expected: 16, actual: 3)) {
            _ = try engine.softmaxBackward(output: y, gradient: [1, 2, 3], shape: shape)
        }
        #expect(throws: FusedKernelsError.self) {
            _ = try engine.softmaxBackward(output: y, gradient: y, shape: shape, kind: .logSumExp)
        }
        let other = try Engine(device: "cpu")
        let foreign = try other.tensor(y, shape: shape)
        #expect(throws: FusedKernelsError.deviceMismatch(argument: "x", tensorDevice: "another engine",
                                                         engineDevice: engine.backend.description)) {
            _ = try engine.softmax(foreign)
        }
        let a = try engine.tensor(y, shape: shape)
        let b = try engine.tensor([Float](repeating: 0, count: 8), shape: Shape(rows: 1, cols: 8))
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "dy", expected: shape, actual: b.shape)) {
            _ = try engine.softmaxBackward(output: a, gradient: b)
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "y", reason: "must not be the input tensor")) {
            try engine.softmax(a, into: a)
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "y", expected: Shape(rows: 2, cols: 1), actual: shape)) {
            try engine.softmax(a, into: try engine.tensor(y, shape: shape), kind: .logSumExp)
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "y", expected: .float32, actual: .bfloat16)) {
            try engine.copy(a, into: try engine.tensor(y.map(BFloat16.init), shape: shape))
        }
        #expect(throws: FusedKernelsError.sizeMismatch(argument: "tensor", expected: 16, actual: 8)) {
            _ = try engine.tensor([Float](repeating: 0, count: 8), shape: shape)
        }
    }
}
