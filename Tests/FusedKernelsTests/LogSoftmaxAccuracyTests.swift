import Foundation
import Testing
@testable import FusedKernels

/// Log-softmax and log-sum-exp where the result is near 0: the maximum of a peaked row
/// (one logit M, the others ≤ M − 12, so y_max = −log(1 + R) ≈ −R with R = Σ_{z≠M}
/// e^(z−M) between ~1e-9 and ~1e-3), and log-sum-exp of such a row when M = 0. Every
/// backend, every variant.
///
/// Tolerance: an expected value e with |e| < 1e-2 is held to a RELATIVE bound alone,
/// |y − e| ≤ 1e-5·|e| (no absolute part); every other value to the fp32 tolerance of the
/// parity tests, 1e-6 + 1e-5·|e|. The reference is NaiveSoftmax (Double, log1p of the sum
/// without the maximum's unit term).
@Suite struct LogSoftmaxAccuracyTests {
    static let nearZero = 1e-2
    static let nearZeroRelativeTolerance = 1e-5

    /// Rows of `cols` logits: peaked rows (one maximum at `at`, the rest in
    /// [M − gap − 4, M − gap)) for several gaps and maxima, a row with a tie at the
    /// maximum, and an ordinary random row.
    static func rows(cols: Int, seed: UInt64) -> [[Float]] {
        // R ≈ cols·e^(−gap)/4: gaps chosen for R from ~1e-3 down to ~1e-9 at this length.
        let base = log(Double(cols) / 4)
        let gaps = [base + 7, base + 11, base + 16, base + 21].map { Float($0) }
        let positions = [0, cols / 2 + 5, cols - 1, min(cols - 1, 3)]
        var rows: [[Float]] = []
        for (index, gap) in gaps.enumerated() {
            for top: Float in [0, 1e4, -1e4] {
                let noise = randomValues(cols, seed: seed + UInt64(index * 10) + UInt64(top == 0 ? 0 : top > 0 ? 1 : 2),
                                         in: 0 ... 4)
                var row = noise.map { top - gap - $0 }
                row[positions[index]] = top
                rows.append(row)
            }
        }
        // A tie at the maximum (y_max ≈ −log 2) beside one peaked column far below.
        var tie = randomValues(cols, seed: seed + 100, in: 0 ... 4).map { -20 - $0 }
        tie[1] = 0
        tie[cols - 2] = 0
        rows.append(tie)
        rows.append(randomValues(cols, seed: seed + 200))
        return rows
    }

    static func check(_ y: [Float], _ expected: [Double], _ context: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(y.count == expected.count, "\(context): count", sourceLocation: sourceLocation)
        var failures = 0
        var worst = 0.0
        for (index, (a, e)) in zip(y, expected).enumerated() {
            let near = abs(e) < nearZero
            let bound = near ? nearZeroRelativeTolerance * abs(e)
                             : fp32AbsoluteTolerance + fp32RelativeTolerance * abs(e)
            let error = abs(Double(a) - e)
            if near && e != 0 { worst = max(worst, error / abs(e)) }
            if !(a.isFinite && error <= bound) {
                failures += 1
                if failures <= 3 {
                    Issue.record("\(context): element \(index) is \(a), expected \(e) (relative error \(error / abs(e)))",
                                 sourceLocation: sourceLocation)
                }
            }
        }
        if failures > 3 {
            let message = "\(context): \(failures) elements out of tolerance in all; worst relative error of a near-0 value \(worst)"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }

    static func run(_ backend: TestBackend, cols: Int, rowLimit: Int, variants: [SoftmaxVariant],
                    only: [Int]? = nil) throws {
        let engine = try backend.engine()
        var all = rows(cols: cols, seed: UInt64(cols))
        if let only { all = only.map { all[$0] } }
        // Oclgrind: fewer rows per launch.
        let groups = stride(from: 0, to: all.count, by: rowLimit).map { Array(all[$0 ..< min(all.count, $0 + rowLimit)]) }
        for (g, group) in groups.enumerated() {
            let shape = Shape(rows: group.count, cols: cols)
            let x = group.flatMap { $0 }
            for variant in variants {
                let options = HostOptions(variant: variant)
                for kind in [SoftmaxKind.logSoftmax, .logSumExp] {
                    var y = [Float](repeating: poison, count: kind == .logSumExp ? shape.rows : shape.count)
                    _ = try engine.softmax(x, shape: shape, into: &y, kind: kind, options: options)
                    check(y, NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options),
                          "\(backend.label) \(kind) \(variant) \(shape) group \(g)")
                }
            }
        }
    }

    /// Every variant on rows of 1000 columns (whole-row kernels; split cuts them too on
    /// OpenCL, into at least 2 shards).
    @Test(arguments: TestBackend.withGPUPreset)
    func peakedRows(backend: TestBackend) throws {
        try Self.run(backend, cols: 1000, rowLimit: backend.isSimulator ? 4 : 64, variants: SoftmaxVariant.allCases)
    }

    /// Rows long enough that split really splits on the CPU path too (≥ 2 shards of
    /// 16384 columns), one or two at a time.
    @Test(arguments: TestBackend.withGPUPreset)
    func peakedLongRows(backend: TestBackend) throws {
        try Self.run(backend, cols: 40_000, rowLimit: backend.isSimulator ? 1 : 2,
                     variants: backend.isSimulator ? [.split] : SoftmaxVariant.allCases,
                     // Oclgrind (~40 µs per element): R ≈ 1e-5 and ≈ 1e-9 with M = 0 only.
                     only: backend.isSimulator ? [3, 9] : nil)
    }
}
