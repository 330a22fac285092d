import Foundation
import Testing
@testable import FusedKernels

/// Each forward algorithm of the CPU path (`SoftmaxOptions.variant`) against the naive
/// Double softmax, as tightly as the reference itself (CPUPathTests): relative 1e-6,
/// absolute 5e-7. Outputs are poisoned first, so an unwritten element fails.
@Suite struct CPUVariantTests {
    static let kinds = [SoftmaxKind.softmax, .logSoftmax]
    static let tolerance = (rtol: 1e-6, atol: 5e-7)

    /// Softmax or log-softmax of `x` on the CPU path with `options`, into a poisoned output.
    static func run(_ x: [Float], _ shape: Shape, _ kind: SoftmaxKind, _ options: HostOptions) throws -> [Float] {
        let engine = try Engine(device: "cpu")
        var y = [Float](repeating: poison, count: shape.count)
        _ = try engine.softmax(x, shape: shape, into: &y, kind: kind, options: options)
        return y
    }

    /// Every variant against one naive result per kind.
    static func checkVariants(_ x: [Float], _ shape: Shape, _ options: HostOptions, _ label: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        for kind in kinds {
            let expected = NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options)
            for variant in SoftmaxVariant.allCases {
                var options = options
                options.variant = variant
                expectClose(try run(x, shape, kind, options), expected, rtol: tolerance.rtol, atol: tolerance.atol,
                            "\(variant) \(kind) \(shape) \(label)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Odd sizes around the 16-wide vectors and the 4-vector chunks, rows long enough to
    /// be split into column shards, every mask layout.
    @Test(arguments: [(3, 1), (2, 15), (3, 17), (5, 1000), (2, 16385), (3, 70_001), (1, 200_000)])
    func oddSizesAndMasks(rows: Int, cols: Int) throws {
        let shape = Shape(rows: rows, cols: cols)
        let x = randomValues(shape.count, seed: UInt64(rows * cols))
        for mask in SoftmaxTests.MaskCase.allCases {
            try Self.checkVariants(x, shape, SoftmaxTests.options(mask, shape, seed: UInt64(cols)), "\(mask)")
        }
    }

    /// Shapes whose rows the split variant really splits, and what auto picks.
    @Test func splitShapesAreSplit() {
        #expect(SoftmaxVariantsCPU.shardCount(Shape(rows: 1, cols: 200_000)) > 1)
        #expect(SoftmaxVariantsCPU.shardCount(Shape(rows: 3, cols: 70_001)) > 1)
        #expect(SoftmaxVariantsCPU.shardCount(Shape(rows: 2, cols: 40_000)) > 1)
        #expect(SoftmaxVariantsCPU.shardCount(Shape(rows: 3, cols: 40_000)) > 1)
        #expect(SoftmaxVariantsCPU.autoVariant(Shape(rows: 1, cols: 1_048_576)) == .split)
        #expect(SoftmaxVariantsCPU.autoVariant(Shape(rows: 1, cols: 1000)) == .block)
        #expect(SoftmaxVariantsCPU.autoVariant(Shape(rows: 4096, cols: 4096)) == .block)
    }

    /// One row per corner case, between ordinary rows (nothing may leak across rows).
    static func specialRows(cols: Int) -> [[Float]] {
        let row = { (make: (Int) -> Float) in (0 ..< cols).map(make) }
        let last = cols - 1
        return [
            row { Float($0 % 7) - 3 },
            row { _ in -.infinity },
            row { $0 == last / 2 ? 2.5 : -.infinity },
            row { $0 == last ? .nan : Float($0 % 11) },
            row { $0 == 5 ? .nan : -.infinity },
            row { $0 == last - 3 ? .infinity : Float($0 % 5) },
            row { $0 % 3 == 0 ? -.infinity : Float($0 % 13) * 0.25 },
            // Huge values: ties and one-hot rows (beyond two-pass's accurate range, still exact).
            row { $0 % 2 == 0 ? 1e30 : -1e30 },
            row { $0 == last ? 1e30 : Float($0 % 3) },
            // Large magnitudes inside the two-pass range (|z| < ~9e4), differences of order 1.
            row { 50_000 + Float($0 % 17) * 0.5 },
            row { -80_000 + Float($0 % 23) * 0.25 },
        ]
    }

    /// 37 columns (two vectors and a tail) and 40000 (split into shards when two rows
    /// at a time are checked).
    @Test(arguments: [37, 40_000])
    func specialValues(cols: Int) throws {
        let rows = Self.specialRows(cols: cols)
        let shape = Shape(rows: rows.count, cols: cols)
        let x = rows.flatMap { $0 }
        for first in stride(from: 0, to: rows.count, by: 2) {
            let pair = Array(rows[first ..< min(rows.count, first + 2)])
            try Self.checkVariants(pair.flatMap { $0 }, Shape(rows: pair.count, cols: cols), HostOptions(),
                                   "special rows from \(first)")
        }
        // The semantics, stated directly: all −inf → 0 / −inf; NaN and +inf → a NaN row, no other.
        for variant in SoftmaxVariant.allCases {
            for kind in Self.kinds {
                let y = try Self.run(x, shape, kind, HostOptions(variant: variant))
                let row = { (r: Int) in y[r * cols ..< (r + 1) * cols] }
                #expect(row(1).allSatisfy { kind == .softmax ? $0 == 0 : $0 == -.infinity }, "\(variant) \(kind)")
                #expect((3 ... 5).allSatisfy { row($0).allSatisfy(\.isNaN) }, "\(variant) \(kind)")
                #expect(!y[..<(3 * cols)].contains(where: \.isNaN) && !y[(6 * cols)...].contains(where: \.isNaN),
                        "\(variant) \(kind)")
            }
        }
    }

    /// A masked-out position is never read: NaN and +inf there change nothing.
    @Test(arguments: [37, 40_000])
    func maskedSpecialValuesAreIgnored(cols: Int) throws {
        let shape = Shape(rows: 3, cols: cols)
        var x = randomValues(shape.count, seed: 8)
        // Every fourth column masked, and all of row 1.
        let keep = (0 ..< shape.count).map { i in i % 4 != 2 && i / cols != 1 }
        for i in x.indices where !keep[i] { x[i] = i % 8 == 2 ? .nan : .infinity }
        let options = HostOptions(scale: 1.5, keepMask: keep)
        try Self.checkVariants(x, shape, options, "masked NaN/+inf")
        let clean = x.indices.map { keep[$0] ? x[$0] : 0 }
        for variant in SoftmaxVariant.allCases {
            var options = options
            options.variant = variant
            for kind in Self.kinds {
                #expect(try Self.run(x, shape, kind, options) == Self.run(clean, shape, kind, options),
                        "\(variant) \(kind)")
            }
        }
    }

    /// 1M columns: the float sums must keep softmax within 1e-6 relative of the Double one
    /// (absolute tolerances would hide it: every value is ~1e-6).
    @Test func millionColumnRow() throws {
        let shape = Shape(rows: 1, cols: 1 << 20)
        // Multiples of 2^-10 and scale 1: z − max is exact in Float, so what remains is the
        // error of exp (≤ 2.5e-7) and of the sum.
        let x = randomValues(shape.count, seed: 11, in: -10 ... 10).map { ($0 * 1024).rounded() / 1024 }
        let options = HostOptions()
        let expected = NaiveSoftmax.forward(x, shape: shape, kind: .softmax, options: options)
        for variant in SoftmaxVariant.allCases {
            var options = options
            options.variant = variant
            let y = try Self.run(x, shape, .softmax, options)
            let worst = zip(y, expected).map { abs(Double($0) - $1) / $1 }.max() ?? .nan
            #expect(worst <= 1e-6, "\(variant): max relative error \(worst)")
        }
    }
}
