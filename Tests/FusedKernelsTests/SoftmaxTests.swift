import Foundation
import Testing
@testable import FusedKernels

/// Every backend (the CPU path and each OpenCL device) against the naive Double
/// reference, over odd sizes that straddle the kernels' vector width, with masks.
@Suite struct SoftmaxTests {
    /// Columns around the 16-wide vectors and the blocking of the kernels.
    static let cols = [1, 3, 15, 16, 17, 33, 255, 256, 257, 1000, 4097]
    static let rows = [1, 3, 7]

    enum MaskCase: CaseIterable {
        case none, additiveRow, additiveFull, keepRow, keepFull, both
    }

    static func options(_ mask: MaskCase, _ shape: Shape, seed: UInt64) -> HostOptions {
        let additive = { (count: Int) in randomValues(count, seed: seed, in: -3 ... 3) }
        // Every third element masked out; the first row of a full mask is masked entirely.
        let keep = { (count: Int) in (0 ..< count).map { i in i % 3 != 1 && !(count > shape.cols && i < shape.cols) } }
        switch mask {
        case .none: return HostOptions(scale: 1)
        case .additiveRow: return HostOptions(scale: 0.5, additiveMask: additive(shape.cols))
        case .additiveFull: return HostOptions(scale: 2, additiveMask: additive(shape.count))
        case .keepRow: return HostOptions(scale: 1, keepMask: keep(shape.cols))
        case .keepFull: return HostOptions(scale: 1.25, keepMask: keep(shape.count))
        case .both: return HostOptions(scale: 0.9, additiveMask: additive(shape.cols), keepMask: keep(shape.count))
        }
    }

    /// One backend × shape × mask case of the parity matrix.
    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let shape: Shape
        let mask: MaskCase
        var testDescription: String { "\(backend.label) \(shape) \(mask)" }
    }

    /// Every shape that fits the backend's budget, with every mask layout.
    static let runs: [Run] = TestBackend.withGPUPreset.flatMap { backend in
        rows.flatMap { rows in
            cols.filter { rows * $0 <= backend.elementBudget / 4 }.flatMap { cols in
                MaskCase.allCases.map { Run(backend: backend, shape: Shape(rows: rows, cols: cols), mask: $0) }
            }
        }
    }

    @Test(arguments: runs)
    func forwardAllKindsAndMasks(run: Run) throws {
        let engine = try run.backend.engine()
        let shape = run.shape
        let seed = UInt64(shape.rows * 10_007 + shape.cols * 7) + UInt64(MaskCase.allCases.firstIndex(of: run.mask)!)
        let x = randomValues(shape.count, seed: seed)
        let options = Self.options(run.mask, shape, seed: seed + 1000)
        for kind in SoftmaxKind.allCases {
            var y = [Float](repeating: poison, count: kind == .logSumExp ? shape.rows : shape.count)
            let ran = try engine.softmax(x, shape: shape, into: &y, kind: kind, options: options)
            #expect(ran == engine.backend, "ran on \(ran), not \(engine.backend)")
            expectClose(y, NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options),
                        rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(run.testDescription) \(kind)")
        }
    }

    /// Rows long enough that each work-item loops many times, and many rows.
    @Test(arguments: ShapeRun.all([(513, 129), (4, 65_537), (2, 1_048_577)]))
    func forwardLargeShapes(run: ShapeRun) throws {
        let engine = try run.backend.engine()
        let shape = run.shape
        let x = randomValues(shape.count, seed: UInt64(shape.rows * 31 + shape.cols))
        for kind in SoftmaxKind.allCases {
            expectClose(try engine.softmax(x, shape: shape, kind: kind), NaiveSoftmax.forward(x, shape: shape, kind: kind),
                        rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(run.testDescription) \(kind)")
        }
    }

    /// One backend × variant case across the block kernel's row limit.
    struct VariantRun: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let variant: SoftmaxVariant
        var testDescription: String { "\(backend.label) \(variant)" }
    }

    static let variantRuns = TestBackend.withGPUPreset.flatMap { backend in
        SoftmaxVariant.allCases.map { VariantRun(backend: backend, variant: $0) }
    }

    /// Every variant, on shapes on both sides of the block kernel's row limit.
    @Test(arguments: variantRuns)
    func variantsAcrossTheBlockThreshold(run: VariantRun) throws {
        let engine = try run.backend.engine()
        let limit = SoftmaxVariant.blockMaxColumns
        let shapes = [(5, 17), (9, 1000), (3, limit - 1), (2, limit), (2, limit + 1)]
        for (rows, cols) in shapes where rows * cols <= run.backend.elementBudget {
            let shape = Shape(rows: rows, cols: cols)
            let x = randomValues(shape.count, seed: UInt64(cols + 5))
            for mask in [MaskCase.none, .both] {
                var options = Self.options(mask, shape, seed: 3)
                options.variant = run.variant
                for kind in SoftmaxKind.allCases {
                    expectClose(try engine.softmax(x, shape: shape, kind: kind, options: options),
                                NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options),
                                rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance,
                                "\(run.testDescription) \(kind) \(shape) \(mask)")
                }
            }
        }
    }

    static let backwardRuns = ShapeRun.all(rows.flatMap { rows in cols.map { (rows, $0) } },
                                           budget: { $0.elementBudget / 2 })

    @Test(arguments: backwardRuns)
    func backwardBothKinds(run: ShapeRun) throws {
        let engine = try run.backend.engine()
        let shape = run.shape
        let options = Self.options(.keepRow, shape, seed: 7)
        let x = randomValues(shape.count, seed: UInt64(shape.rows * 1000 + shape.cols))
        let dy = randomValues(shape.count, seed: UInt64(shape.rows * 1000 + shape.cols + 1), in: -1 ... 1)
        for kind in [SoftmaxKind.softmax, .logSoftmax] {
            let y = NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options).map(Float.init)
            let dxTensor = try engine.tensor([Float](repeating: poison, count: shape.count), shape: shape)
            try engine.softmaxBackward(output: try engine.tensor(y, shape: shape),
                                       gradient: try engine.tensor(dy, shape: shape), into: dxTensor,
                                       kind: kind, scale: 1.25)
            expectClose(try dxTensor.toArray(), NaiveSoftmax.backward(y: y, dy: dy, shape: shape, kind: kind, scale: 1.25),
                        rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(run.testDescription) \(kind) backward")
        }
    }

    /// Device-resident tensors chain forward → backward without host copies.
    @Test(arguments: TestBackend.withGPUPreset)
    func deviceTensorsChain(backend: TestBackend) throws {
        let engine = try backend.engine()
        let shape = Shape(rows: 5, cols: 300)
        let x = randomValues(shape.count, seed: 77)
        let dy = randomValues(shape.count, seed: 78, in: -1 ... 1)
        let options = HostOptions(scale: 0.5)
        let yTensor = try engine.softmax(try engine.tensor(x, shape: shape), kind: .logSoftmax,
                                         options: try options.tensors(on: engine, shape))
        let dxTensor = try engine.softmaxBackward(output: yTensor, gradient: try engine.tensor(dy, shape: shape),
                                                  kind: .logSoftmax, scale: 0.5)
        let y = try yTensor.toArray()
        expectClose(y, NaiveSoftmax.forward(x, shape: shape, kind: .logSoftmax, options: options),
                    rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) chained forward")
        expectClose(try dxTensor.toArray(),
                    NaiveSoftmax.backward(y: y, dy: dy, shape: shape, kind: .logSoftmax, scale: 0.5),
                    rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) chained backward")
        let lse = try engine.softmax(try engine.tensor(x, shape: shape), kind: .logSumExp,
                                     options: try options.tensors(on: engine, shape))
        #expect(lse.shape == [5, 1])
        let copied = try engine.copy(try engine.tensor(x, shape: shape)).toArray()
        #expect(copied == x)
        // Into existing outputs, reused across calls.
        let input = try engine.tensor(x, shape: shape)
        let output = try engine.tensor([Float](repeating: poison, count: shape.count), shape: shape)
        for kind in [SoftmaxKind.softmax, .logSoftmax] {
            try engine.softmax(input, into: output, kind: kind, options: try options.tensors(on: engine, shape))
            expectClose(try output.toArray(), NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options),
                        rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) \(kind) into")
        }
        for streaming in [true, false] {
            let target = try engine.tensor([Float](repeating: poison, count: shape.count), shape: shape)
            try engine.copy(input, into: target, streamingStores: streaming)
            #expect(try target.toArray() == x)
        }
    }
}
