import Foundation
import Testing
@testable import FusedKernels

/// Matmul on every backend and both kernel presets against a naive Double reference.
/// Tolerance per element: |c − ref| ≤ rtol·|ref| + 1e-5·(Σ_p |a_ip·b_pj| + |β·c_ij|), where
/// rtol is 0 for fp32 and the output's rounding (2^-11 fp16, 2^-8 bf16) otherwise; the
/// reference uses the inputs as stored (rounded to the dtype).
@Suite struct MatmulTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var m: Int, n: Int, k: Int
        var transposeA = false, transposeB = false
        var batch: Int? = nil
        var dtype = DType.float32
        var alpha: Float = 1, beta: Float = 0
        var testDescription: String {
            "m\(m) n\(n) k\(k)\(transposeA ? " Aᵀ" : "")\(transposeB ? " Bᵀ" : "")"
                + (batch.map { " batch \($0)" } ?? "") + " \(dtype) α\(alpha) β\(beta)"
        }
        var work: Int { m * n * k * (batch ?? 1) }
    }

    /// Every size of DESIGN.md in each position (the others small), the four transposes
    /// on a shape straddling every tile of both presets, dtypes, α/β and batches.
    static let cases: [Case] = {
        var cases: [Case] = []
        for size in [1, 3, 17, 129, 1000, 1025] {
            cases += [Case(m: size, n: 3, k: 17), Case(m: 17, n: size, k: 3), Case(m: 3, n: 17, k: size)]
        }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            cases.append(Case(m: 129, n: 257, k: 300, transposeA: ta, transposeB: tb))
            cases.append(Case(m: 17, n: 33, k: 19, transposeA: ta, transposeB: tb))
        }
        cases += [Case(m: 1025, n: 1000, k: 129), Case(m: 97, n: 259, k: 513, batch: 3, alpha: 0.5, beta: -1.25)]
        for dtype in [DType.float16, .bfloat16] {
            cases += [Case(m: 129, n: 257, k: 65, transposeB: true, dtype: dtype),
                      Case(m: 17, n: 19, k: 23, transposeA: true, batch: 2, dtype: dtype, alpha: 2, beta: 0.5)]
        }
        return cases
    }()

    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let preset: KernelPreset
        let test: Case
        var testDescription: String { "\(backend.label) \(preset) \(test.testDescription)" }
    }

    /// Oclgrind interprets every work-item: it gets the cases of at most 60 k multiply-adds.
    static let runs: [Run] = TestBackend.all.flatMap { backend in
        let presets: [KernelPreset] = backend.selector == "cpu" ? [.auto] : [.cpu, .gpu]
        return presets.flatMap { preset in
            cases.filter { !backend.isSimulator || $0.work <= 60_000 }.map { Run(backend: backend, preset: preset, test: $0) }
        }
    }

    @Test(arguments: runs)
    func matchesDoubleReference(run: Run) throws {
        let engine = try run.backend.engine()
        let test = run.test
        let seed = UInt64(test.m * 7 + test.n * 13 + test.k)
        let batch = test.batch ?? 1
        let batchAxis: [Int] = test.batch.map { [$0] } ?? []
        let aShape = batchAxis + (test.transposeA ? [test.k, test.m] : [test.m, test.k])
        // B rank 2 in the batched cases: one matrix shared by every batch (stride 0).
        let bShape = test.transposeB ? [test.n, test.k] : [test.k, test.n]
        let a = randomValues(aShape.reduce(1, *), seed: seed, in: -1 ... 1).map(test.dtype.round)
        let b = randomValues(bShape.reduce(1, *), seed: seed + 1, in: -1 ... 1).map(test.dtype.round)
        let cShape = batchAxis + [test.m, test.n]
        let c0 = test.beta == 0 ? [Float](repeating: .nan, count: cShape.reduce(1, *))
                                : randomValues(cShape.reduce(1, *), seed: seed + 2).map(test.dtype.round)
        let c = try floatTensor(c0, shape: cShape, test.dtype, engine)
        try engine.matmul(try floatTensor(a, shape: aShape, test.dtype, engine), try floatTensor(b, shape: bShape, test.dtype, engine),
                          into: c, transposeA: test.transposeA, transposeB: test.transposeB, alpha: test.alpha,
                          beta: test.beta, preset: run.preset)
        let result = try c.toArray()
        var failures = 0
        for z in 0 ..< batch {
            for i in 0 ..< test.m {
                for j in 0 ..< test.n {
                    var sum = 0.0, magnitude = 0.0
                    for p in 0 ..< test.k {
                        let av = Double(a[z * test.m * test.k + (test.transposeA ? p * test.m + i : i * test.k + p)])
                        let bv = Double(b[test.transposeB ? j * test.k + p : p * test.n + j])
                        sum += av * bv
                        magnitude += abs(av * bv)
                    }
                    let index = (z * test.m + i) * test.n + j
                    let old = test.beta == 0 ? 0 : Double(test.beta) * Double(c0[index])
                    let expected = Double(test.alpha) * sum + old
                    let rtol = test.dtype == .float16 ? 0x1p-11 : test.dtype == .bfloat16 ? 0x1p-8 : 0
                    let bound = rtol * abs(expected) + 1e-5 * (abs(Double(test.alpha)) * magnitude + abs(old))
                    if !(abs(Double(result[index]) - expected) <= bound) {
                        failures += 1
                        if failures <= 3 { Issue.record("\(run.testDescription): c[\(z), \(i), \(j)] = \(result[index]), expected \(expected)") }
                    }
                }
            }
        }
        #expect(failures == 0, "\(failures) elements out of tolerance")
    }

    /// Views: slices with offsets, a C slice of a larger tensor, a transposed view passed
    /// directly; C outside the slice is untouched.
    @Test(arguments: TestBackend.all)
    func stridedViews(backend: TestBackend) throws {
        let engine = try backend.engine()
        let big = randomValues(40 * 50, seed: 5, in: -1 ... 1)
        let source = try engine.tensor(big, shape: [40, 50])
        let a = try source.slice(axis: 0, 3 ..< 20).slice(axis: 1, 5 ..< 28)          // [17, 23], row stride 50
        let bTransposed = try source.slice(axis: 0, 10 ..< 33).slice(axis: 1, 1 ..< 20).transposed()  // Bᵀ: [19, 23]
        let target = try engine.tensor([Float](repeating: poison, count: 30 * 40), shape: [30, 40])
        let c = try target.slice(axis: 0, 2 ..< 19).slice(axis: 1, 7 ..< 26)          // [17, 19]
        try engine.matmul(a, bTransposed, into: c, transposeB: true)
        let values = try target.toArray()
        for i in 0 ..< 30 {
            for j in 0 ..< 40 {
                let inside = (2 ..< 19).contains(i) && (7 ..< 26).contains(j)
                guard inside else {
                    #expect(values[i * 40 + j].bitPattern == poison.bitPattern, "c[\(i), \(j)] outside the view written")
                    continue
                }
                var expected = 0.0
                for p in 0 ..< 23 { expected += Double(big[(3 + i - 2) * 50 + 5 + p]) * Double(big[(10 + p) * 50 + 1 + j - 7]) }
                #expect(abs(Double(values[i * 40 + j]) - expected) <= 1e-5 * 23, "c[\(i), \(j)]")
            }
        }
    }

    @Test func rejectsBadOperands() throws {
        let engine = try Engine(device: "cpu")
        let a = try engine.tensor([Float](repeating: 1, count: 6), shape: [2, 3])
        let b = try engine.tensor([Float](repeating: 1, count: 8), shape: [4, 2])
        #expect(throws: FusedKernelsError.invalidArgument(argument: "b", reason: "op(b) has 4 rows, op(a) has 3 columns")) {
            _ = try engine.matmul(a, b)
        }
        let half = try engine.tensor([Float16](repeating: 1, count: 6), shape: [3, 2])
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "b", expected: .float32, actual: .float16)) {
            _ = try engine.matmul(a, half)
        }
        let vector = try engine.tensor([Float](repeating: 1, count: 3), shape: [3])
        #expect(throws: FusedKernelsError.self) { _ = try engine.matmul(a, vector) }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "beta", reason: "must be finite, got inf")) {
            try engine.matmul(a, try a.transposed(), into: try engine.empty(shape: [2, 2], dtype: .float32), beta: .infinity)
        }
    }

    func floatTensor(_ values: [Float], shape: [Int], _ dtype: DType, _ engine: Engine) throws -> Tensor {
        switch dtype {
        case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
        case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
        default: return try engine.tensor(values, shape: shape)
        }
    }
}
