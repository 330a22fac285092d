import Foundation
import Testing
@testable import FusedKernels

/// The online normalizer as an op: per-row (m, d), merging of column shards, and
/// the log-sum-exp backward, on every backend.
@Suite struct NormalizerTests {
    /// (max z, Σ e^(z − max z)) per row in Double.
    static func naiveStatistics(_ x: [Float], shape: Shape, options: HostOptions) -> [(Double, Double)] {
        NaiveSoftmax.logits(x, shape: shape, options: options).map { z in
            let m = z.filter { !$0.isNaN }.max() ?? -.infinity
            if m == -.infinity { return (m, z.contains { $0.isNaN } ? .nan : 0) }
            return (m, z.reduce(0) { $0 + exp($1 - m) })
        }
    }

    static func expectStatistics(_ stats: NormalizerStatistics, _ expected: [(Double, Double)], _ label: String) {
        expectClose(stats.max, expected.map(\.0), rtol: 1e-6, atol: 0, "\(label) max")  // z rounds to fp32
        expectClose(stats.sum, expected.map(\.1), rtol: fp32RelativeTolerance, atol: 0, "\(label) sum")
    }

    @Test(arguments: ShapeRun.all([(1, 1), (3, 17), (9, 1000), (2, 4097)]))
    func statisticsMatchNaive(run: ShapeRun) throws {
        let (backend, shape, cols) = (run.backend, run.shape, run.shape.cols)
        let engine = try backend.engine()
        do {
            let x = randomValues(shape.count, seed: UInt64(cols))
            for variant in [SoftmaxVariant.auto, .split] {
                let options = HostOptions(scale: 1.5, additiveMask: randomValues(cols, seed: 2, in: -1 ... 1),
                                             variant: variant)
                Self.expectStatistics(try engine.normalizer(x, shape: shape, options: options),
                                      Self.naiveStatistics(x, shape: shape, options: options),
                                      "\(backend.label) \(shape) \(variant)")
                let viaTensor = try engine.normalizer(try engine.tensor(x, shape: shape),
                                                      options: try options.tensors(on: engine, shape))
                let direct = try engine.normalizer(x, shape: shape, options: options)
                #expect(viaTensor == direct, "\(viaTensor) vs \(direct)")
            }
        }
    }

    @Test(arguments: TestBackend.withGPUPreset)
    func specialRows(backend: TestBackend) throws {
        let engine = try backend.engine()
        let x = EdgeCaseTests.rows.flatMap { $0 }
        let shape = Shape(rows: EdgeCaseTests.rows.count, cols: EdgeCaseTests.cols)
        for variant in [SoftmaxVariant.auto, .split] {
            let stats = try engine.normalizer(x, shape: shape, options: HostOptions(variant: variant))
            #expect(stats.max[1] == -.infinity && stats.sum[1] == 0, "all −inf row is (−inf, 0)")
            #expect(stats.sum[4].isNaN, "NaN row")
            #expect(stats.logSumExp[1] == -.infinity)
            Self.expectStatistics(stats, Self.naiveStatistics(x, shape: shape, options: .init()),
                                  "\(backend.label) \(variant)")
        }
    }

    /// Statistics of column shards, merged, equal the statistics of whole rows.
    @Test(arguments: TestBackend.withGPUPreset)
    func shardsMergeToTheWholeRow(backend: TestBackend) throws {
        let engine = try backend.engine()
        let rows = 4, cuts = [0, 1, 700, 1500, 2001]
        let cols = cuts.last!
        var x = randomValues(rows * cols, seed: 11)
        for col in 0 ..< 700 { x[2 * cols + col] = -.infinity }  // row 2: first shards all −inf
        let whole = try engine.normalizer(x, shape: Shape(rows: rows, cols: cols))
        let shards = try zip(cuts, cuts.dropFirst()).map { start, end in
            let part = (0 ..< rows).flatMap { row in x[row * cols + start ..< row * cols + end] }
            return try engine.normalizer(part, shape: Shape(rows: rows, cols: end - start))
        }
        let merged = try NormalizerStatistics.merging(shards.reversed())
        expectClose(merged.max, whole.max.map(Double.init), rtol: 0, atol: 0, "\(backend.label) merged max")
        expectClose(merged.sum, whole.sum.map(Double.init), rtol: 1e-5, atol: 0, "\(backend.label) merged sum")
        #expect(throws: FusedKernelsError.self) { _ = try NormalizerStatistics.merging([]) }
        #expect(throws: FusedKernelsError.sizeMismatch(argument: "parts[1]", expected: 4, actual: 1)) {
            _ = try NormalizerStatistics.merging([whole, NormalizerStatistics(max: [0], sum: [1])])
        }
    }

    @Test(arguments: TestBackend.withGPUPreset)
    func logSumExpBackward(backend: TestBackend) throws {
        let engine = try backend.engine()
        let shape = Shape(rows: 5, cols: 333)
        let x = randomValues(shape.count, seed: 21)
        let keep = (0 ..< shape.count).map { $0 % 7 != 0 && $0 / shape.cols != 3 }  // row 3 fully masked
        var options = HostOptions(scale: 0.5, keepMask: keep)
        let dlse: [Float] = [1, -2, 0.5, 3, 0]
        let p = NaiveSoftmax.forward(x, shape: shape, kind: .softmax, options: options)
        let expected = p.enumerated().map { i, v in 0.5 * Double(dlse[i / shape.cols]) * v }
        for variant in [SoftmaxVariant.auto, .split] {
            options.variant = variant
            let dx = try engine.logSumExpBackward(x, shape: shape, gradient: dlse, options: options)
            expectClose(dx, expected, rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance,
                        "\(backend.label) dLSE \(variant)")
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "gradient", expected: [5, 1], actual: [2, 1])) {
            _ = try engine.logSumExpBackward(x, shape: shape, gradient: [1, 2], options: options)
        }
    }
}
