import Foundation
import Testing
@testable import FusedKernels

/// `convert` between fp32, fp16 and bf16 on every backend, bit for bit against a
/// reference: Swift's own `Float16(_:)` for fp16, and for bf16 the nearer of the two
/// neighbouring bf16 values by exact (Double) distance, ties to the even one — another
/// algorithm than the kernels' and the CPU path's add-and-truncate. NaN must stay NaN.
@Suite struct ConvertTests {
    static let floating: [DType] = [.float32, .float16, .bfloat16]

    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let from: DType
        let to: DType
        var testDescription: String { "\(backend.label) \(from)→\(to)" }
    }

    static let runs: [Run] = TestBackend.all.flatMap { backend in
        floating.flatMap { from in floating.map { Run(backend: backend, from: from, to: $0) } }
    }

    /// Ties, the edges of fp16's range and subnormals, bf16 ties, ±0, ±inf, NaN.
    static let specials: [Float] = [
        0, -0, .infinity, -.infinity, .nan, -.nan, 1, -1,
        1 + 0x1p-11, 1 + 3 * 0x1p-11, -(1 + 0x1p-11), 1 + 0x1p-11 + 0x1p-20,   // fp16 ties and just past
        65504, 65519.99, 65520, -65520, 1e6,                                      // fp16 max, overflow
        0x1p-24, 0x1p-25, 3 * 0x1p-25, 0x1p-26, -0x1p-24, 6.1e-5,               // fp16 subnormals
        1 + 0x1p-8, 1 + 3 * 0x1p-8, -(1 + 0x1p-8), 1 + 0x1p-8 + 0x1p-20,          // bf16 ties and just past
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 3.3961e38,          // bf16 overflow
        .leastNonzeroMagnitude, Float(bitPattern: 0x0001_8000), .leastNormalMagnitude,   // fp32 subnormals
    ]

    /// The specials and random values over 2^±30, stored as `dtype` (110: [5, 22]).
    static func sourceValues(_ dtype: DType) -> [Float] {
        let random = randomValues(110 - specials.count, seed: 11).enumerated().map { i, x in
            x * Float(sign: .plus, exponent: i % 61 - 30, significand: 1)
        }
        return (specials + random).map(dtype.round)
    }

    /// Contiguous rows (16-wide and scalar loads) and a transposed view (strided) in;
    /// `to:` and `into:` a strided slice out.
    @Test(arguments: runs)
    func matchesReference(run: Run) throws {
        let engine = try run.backend.engine()
        let values = Self.sourceValues(run.from)
        let (rows, cols) = (5, values.count / 5)
        let expected = values.map { reference($0, to: run.to) }
        let contiguous = try engine.convert(try tensor(values, shape: [rows, cols], run.from, engine), to: run.to)
        check(try bits(contiguous), expected, run.to, "\(run.testDescription) contiguous")

        // stored [cols, rows], so that its transposed view holds `values` row-major
        let stored = (0 ..< values.count).map { values[($0 % rows) * cols + $0 / rows] }
        let x = try tensor(stored, shape: [cols, rows], run.from, engine).transposed()
        let fresh = try engine.convert(x, to: run.to)
        #expect(fresh.dtype == run.to && fresh.shape == [rows, cols])
        check(try bits(fresh), expected, run.to, "\(run.testDescription) transposed")

        let target = try tensor([Float](repeating: poison, count: rows * (cols + 3)), shape: [rows, cols + 3], run.to, engine)
        let before = try bits(target)
        try engine.convert(x, into: try target.slice(axis: 1, 2 ..< cols + 2))
        let after = try bits(target)
        let inside = (0 ..< rows).flatMap { r in (2 ..< cols + 2).map { r * (cols + 3) + $0 } }
        check(inside.map { after[$0] }, expected, run.to, "\(run.testDescription) into:")
        let outside = Set(0 ..< after.count).subtracting(inside)
        #expect(outside.allSatisfy { after[$0] == before[$0] }, "\(run.testDescription): written outside the slice")
    }

    /// fp16 and bf16 widen exactly, and narrowing gives those values back bit for bit.
    /// Each way is its own launch from host data: Oclgrind's uninitialised-value checker
    /// reports a kernel reading another kernel's output (`copy(copy(x))` shows it too).
    @Test(arguments: TestBackend.all)
    func roundTrips(backend: TestBackend) throws {
        let engine = try backend.engine()
        for dtype in [DType.float16, .bfloat16] {
            let values = Self.sourceValues(dtype).filter { !$0.isNaN }
            let narrow = try tensor(values, shape: [values.count], dtype, engine)
            let wide = try engine.tensor(values, shape: [values.count])
            #expect(try bits(try engine.convert(narrow, to: .float32)) == (try bits(wide)), "\(backend.label) \(dtype) widened")
            #expect(try bits(try engine.convert(wide, to: dtype)) == (try bits(narrow)), "\(backend.label) \(dtype) narrowed")
        }
    }

    @Test func rejectsBadDTypes() throws {
        let engine = try Engine(device: "cpu")
        let x = try engine.tensor([Float](repeating: 1, count: 6), shape: [2, 3])
        let indices = try engine.tensor([Int32](repeating: 1, count: 6), shape: [2, 3])
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "x", expected: .float32, actual: .int32)) {
            _ = try engine.convert(indices, to: .float16)
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "dtype", expected: .float32, actual: .bool)) {
            _ = try engine.convert(x, to: .bool)
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "y", expected: .float32, actual: .int32)) {
            try engine.convert(x, into: try engine.empty(shape: [2, 3], dtype: .int32))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "y", expected: [2, 3], actual: [3, 2])) {
            try engine.convert(x, into: try engine.empty(shape: [3, 2], dtype: .float16))
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "y", reason: "must not share storage with an input")) {
            try engine.convert(x, into: x)
        }
    }

    /// The reference's result as bits: fp32 exact, fp16 by Swift, bf16 by distance.
    func reference(_ x: Float, to dtype: DType) -> UInt32 {
        switch dtype {
        case .float16: return UInt32(Float16(x).bitPattern)
        case .bfloat16:
            guard !x.isNaN else { return 0x7FC0 }
            let low = x.bitPattern >> 16                       // toward zero
            guard x.isFinite, x.bitPattern & 0xFFFF != 0 else { return low }
            let high = low + 1                                 // away from zero (0x7F80: inf)
            func magnitude(_ bits: UInt32) -> Double {
                bits & 0x7FFF == 0x7F80 ? 0x1p128 : abs(Double(Float(bitPattern: bits << 16)))
            }
            let (down, up) = (abs(Double(x)) - magnitude(low), magnitude(high) - abs(Double(x)))
            return down < up || (down == up && low & 1 == 0) ? low : high
        default: return x.bitPattern
        }
    }

    /// Equal bits, or both NaN.
    func check(_ actual: [UInt32], _ expected: [UInt32], _ dtype: DType, _ context: String) {
        let isNaN = { (bits: UInt32) -> Bool in
            switch dtype {
            case .float16: return bits & 0x7FFF > 0x7C00
            case .bfloat16: return bits & 0x7FFF > 0x7F80
            default: return Float(bitPattern: bits).isNaN
            }
        }
        let wrong = (0 ..< expected.count).filter { expected[$0] != actual[$0] && !(isNaN(expected[$0]) && isNaN(actual[$0])) }
        if let first = wrong.first {
            let (got, want) = (String(actual[first], radix: 16), String(expected[first], radix: 16))
            Issue.record("\(context): \(wrong.count) wrong; element \(first) has bits \(got), expected \(want)")
        }
    }

    /// A tensor of `dtype` holding `values` (rounded to it).
    func tensor(_ values: [Float], shape: [Int], _ dtype: DType, _ engine: Engine) throws -> Tensor {
        switch dtype {
        case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
        case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
        default: return try engine.tensor(values, shape: shape)
        }
    }

    /// The stored bits of each element, row-major.
    func bits(_ x: Tensor) throws -> [UInt32] {
        switch x.dtype {
        case .float16: return try x.array(of: Float16.self).map { UInt32($0.bitPattern) }
        case .bfloat16: return try x.array(of: BFloat16.self).map { UInt32($0.bitPattern) }
        default: return try x.array(of: Float.self).map(\.bitPattern)
        }
    }
}
