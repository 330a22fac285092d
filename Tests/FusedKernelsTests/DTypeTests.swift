import Foundation
import Testing
@testable import FusedKernels

/// fp16 and bf16 storage (fp32 arithmetic) on every backend. Tolerances are the
/// storage types' rounding: a half ulp is 2^-11 relative for fp16 and 2^-8 for bf16;
/// the bounds below allow two such roundings (input and output) plus fp32 error.
@Suite struct DTypeTests {
    static let tolerances: [DType: (rtol: Double, atol: Double)] = [
        .float16: (rtol: 1.5e-3, atol: 1e-4),
        .bfloat16: (rtol: 1.2e-2, atol: 1e-3),
    ]

    @Test func bfloat16RoundsToNearestEven() {
        #expect(BFloat16(1.0).bitPattern == 0x3F80)
        // 1 + 2^-8 is exactly half-way between 1 and 1 + 2^-7: ties go to the even 1.
        #expect(BFloat16(1.0 + 1.0 / 256).bitPattern == 0x3F80)
        #expect(BFloat16(1.0 + 3.0 / 256).bitPattern == 0x3F82)
        #expect(BFloat16(-.infinity).float == -.infinity)
        #expect(BFloat16(.nan).float.isNaN)
        #expect(BFloat16(3.0e38).bitPattern == 0x7F62)
        #expect(BFloat16(3.4e38).float == .infinity)  // rounds past the largest bf16, 0x7F7F
        #expect(DType.bfloat16.round(0.1) == BFloat16(0.1).float)
    }

    static let shapes = ShapeRun.all([(3, 17), (5, 1000), (2, 4097)])

    func check<T: FloatingTensorElement>(_ type: T.Type, _ run: ShapeRun) throws {
        let backend = run.backend
        let engine = try backend.engine()
        let tolerance = Self.tolerances[T.dtype]!
        do {
            let (shape, rows, cols) = (run.shape, run.shape.rows, run.shape.cols)
            let x = randomValues(shape.count, seed: UInt64(rows + cols)).map(T.init)
            let xFloat = x.map(\.float)
            let options = HostOptions(scale: 0.8, keepMask: (0 ..< cols).map { $0 % 5 != 2 })
            for kind in SoftmaxKind.allCases {
                let y = try engine.softmax(x, shape: shape, kind: kind, options: options)
                expectClose(y.map(\.float), NaiveSoftmax.forward(xFloat, shape: shape, kind: kind, options: options),
                            rtol: tolerance.rtol, atol: tolerance.atol, "\(backend.label) \(T.dtype) \(kind) \(shape)")
            }
            for kind in [SoftmaxKind.softmax, .logSoftmax] {
                let y = try engine.softmax(x, shape: shape, kind: kind, options: options)
                let dy = randomValues(shape.count, seed: 5, in: -1 ... 1).map(T.init)
                let dx = try engine.softmaxBackward(output: y, gradient: dy, shape: shape, kind: kind, scale: 0.8)
                let expected = NaiveSoftmax.backward(y: y.map(\.float), dy: dy.map(\.float), shape: shape,
                                                     kind: kind, scale: 0.8)
                expectClose(dx.map(\.float), expected, rtol: tolerance.rtol, atol: tolerance.atol,
                            "\(backend.label) \(T.dtype) \(kind) backward \(shape)")
            }
            // Device tensors keep their dtype through a chain.
            let tensor = try engine.softmax(try engine.tensor(x, shape: shape), kind: .logSoftmax)
            #expect(tensor.dtype == T.dtype)
            expectClose(try tensor.toArray(), NaiveSoftmax.forward(xFloat, shape: shape, kind: .logSoftmax),
                        rtol: tolerance.rtol, atol: tolerance.atol, "\(backend.label) \(T.dtype) tensor")
        }
    }

    @Test(arguments: shapes)
    func float16Storage(run: ShapeRun) throws { try check(Float16.self, run) }

    @Test(arguments: shapes)
    func bfloat16Storage(run: ShapeRun) throws { try check(BFloat16.self, run) }

    /// Every store path (every variant; rows on both sides of the block threshold; a
    /// 64-byte aligned vector body between scalar heads and tails) rounds to nearest
    /// even: ≥ 99 % of the outputs equal the Double reference rounded to the storage
    /// type (only values within fp32 error of a rounding midpoint may differ; a
    /// truncating store misses about half), and a NaN row stays NaN.
    func checkRounding<T: FloatingTensorElement>(_ type: T.Type, backend: TestBackend) throws {
        let engine = try backend.engine()
        for cols in [1003, 16411] where 3 * cols <= backend.elementBudget {
            let shape = Shape(rows: 3, cols: cols)
            var x = randomValues(shape.count, seed: UInt64(cols), in: -4 ... 4).map(T.init)
            x[2 * cols + 7] = T(.nan)
            let xFloat = x.map(\.float)
            for variant in SoftmaxVariant.allCases {
                let y = try engine.softmax(x, shape: shape, kind: .softmax, options: HostOptions(variant: variant))
                let expected = NaiveSoftmax.forward(xFloat, shape: shape, kind: .softmax)
                let label = "\(backend.label) \(T.dtype) \(variant) \(shape)"
                let exact = (0 ..< 2 * cols).filter { y[$0].float == T.dtype.round(Float(expected[$0])) }.count
                #expect(Double(exact) >= 0.99 * Double(2 * cols), "\(label): \(exact) of \(2 * cols) rounded to nearest")
                #expect(y[(2 * cols)...].allSatisfy { $0.float.isNaN }, "\(label): NaN row")
            }
        }
    }

    @Test(arguments: TestBackend.withGPUPreset)
    func float16StoresRoundToNearestEven(backend: TestBackend) throws { try checkRounding(Float16.self, backend: backend) }

    @Test(arguments: TestBackend.withGPUPreset)
    func bfloat16StoresRoundToNearestEven(backend: TestBackend) throws { try checkRounding(BFloat16.self, backend: backend) }

    @Test func mixedDTypesAreRejected() throws {
        let engine = try Engine(device: "cpu")
        let shape = Shape(rows: 1, cols: 4)
        let y = try engine.tensor([Float](repeating: 0.25, count: 4), shape: shape)
        let dy = try engine.tensor([Float16](repeating: 1, count: 4), shape: shape)
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "dy", expected: .float32, actual: .float16)) {
            _ = try engine.softmaxBackward(output: y, gradient: dy)
        }
    }
}
