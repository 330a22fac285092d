import Foundation
import Testing
@testable import FusedKernels

/// Special values on every backend: each row is built to hit one corner, and the
/// rows around it check that nothing leaks between rows.
@Suite struct EdgeCaseTests {
    static let cols = 37  // two full vectors and a tail

    static func row(_ make: (Int) -> Float) -> [Float] { (0 ..< cols).map(make) }

    /// normal | all −inf | one finite value | ±1e30 | NaN | normal | +inf
    static let rows: [[Float]] = [
        row { Float($0 % 7) - 3 },
        row { _ in -.infinity },
        row { $0 == 20 ? 2.5 : -.infinity },
        row { $0 % 2 == 0 ? 1e30 : -1e30 },
        row { $0 == 5 ? .nan : Float($0) },
        row { Float($0) * 0.01 },
        row { $0 == 36 ? .infinity : 0 },
    ]

    /// One backend × kind case; every variant inside.
    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let kind: SoftmaxKind
        var testDescription: String { "\(backend.label) \(kind)" }
    }

    static let runs = TestBackend.withGPUPreset.flatMap { backend in SoftmaxKind.allCases.map { Run(backend: backend, kind: $0) } }

    @Test(arguments: runs)
    func specialValues(run: Run) throws {
        let (backend, kind) = (run.backend, run.kind)
        let engine = try backend.engine()
        let shape = Shape(rows: Self.rows.count, cols: Self.cols)
        let x = Self.rows.flatMap { $0 }
        do {
          for variant in SoftmaxVariant.allCases {
            let y = try engine.softmax(x, shape: shape, kind: kind, options: HostOptions(variant: variant))
            let expected = NaiveSoftmax.forward(x, shape: shape, kind: kind)
            expectClose(y, expected, rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance,
                        "\(backend.label) \(kind) \(variant)")
            let perRow = kind == .logSumExp ? 1 : Self.cols
            // The semantics, stated directly: all −inf → 0 / −inf; NaN stays in its row.
            let allMasked = y[perRow ..< 2 * perRow]
            #expect(allMasked.allSatisfy { kind == .softmax ? $0 == 0 : $0 == -.infinity })
            #expect(y[4 * perRow ..< 5 * perRow].allSatisfy { $0.isNaN })
            #expect(!y[5 * perRow ..< 6 * perRow].contains { $0.isNaN })
          }
        }
    }

    @Test(arguments: TestBackend.withGPUPreset)
    func fullyMaskedRowsGiveZerosNotNaN(backend: TestBackend) throws {
        let engine = try backend.engine()
        let shape = Shape(rows: 3, cols: 40)
        let x = randomValues(shape.count, seed: 5)
        // Row 1 masked out by the boolean mask, row 2 by an additive −inf mask.
        let keep = (0 ..< shape.count).map { $0 / 40 != 1 }
        let additive = (0 ..< shape.count).map { $0 / 40 == 2 ? -Float.infinity : 0 }
        let options = HostOptions(additiveMask: additive, keepMask: keep)
        let softmax = try engine.softmax(x, shape: shape, kind: .softmax, options: options)
        let logSoftmax = try engine.softmax(x, shape: shape, kind: .logSoftmax, options: options)
        let lse = try engine.softmax(x, shape: shape, kind: .logSumExp, options: options)
        #expect(softmax[40...].allSatisfy { $0 == 0 })
        #expect(logSoftmax[40...].allSatisfy { $0 == -.infinity })
        #expect(lse[1] == -.infinity && lse[2] == -.infinity && lse[0].isFinite)
        let dx = try engine.softmaxBackward(output: logSoftmax, gradient: [Float](repeating: 1, count: shape.count),
                                            shape: shape, kind: .logSoftmax)
        #expect(dx[40...].allSatisfy { $0 == 0 }, "masked positions get no gradient")
    }
}
