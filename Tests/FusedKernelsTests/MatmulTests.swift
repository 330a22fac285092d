import Foundation
import Testing
@testable import FusedKernels

/// Matmul on every backend and both kernel presets against a naive Double reference.
/// Tolerance per element: |c − ref| ≤ rtol·|ref| + 1e-5·(Σ_p |a_ip·b_pj| + |β·c_ij|), where
/// rtol is 0 for an fp32 output and its rounding (2^-11 fp16, 2^-8 bf16) otherwise; the
/// reference uses the inputs as stored (rounded to the dtype).
@Suite struct MatmulTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var m: Int, n: Int, k: Int
        var transposeA = false, transposeB = false
        var batch: Int? = nil
        var dtype = DType.float32
        var alpha: Float = 1, beta: Float = 0
        /// C's dtype when not A's (mixed precision: fp32 C from fp16/bf16 operands).
        var outputDType: DType? = nil
        var output: DType { outputDType ?? dtype }
        var testDescription: String {
            "m\(m) n\(n) k\(k)\(transposeA ? " Aᵀ" : "")\(transposeB ? " Bᵀ" : "")"
                + (batch.map { " batch \($0)" } ?? "") + " \(dtype)" + (outputDType.map { "→\($0)" } ?? "")
                + " α\(alpha) β\(beta)"
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
            // whole aligned 64 × 64 × 16 blocks: the GPU preset's vector loads in every layout
            cases.append(Case(m: 64, n: 64, k: 16, transposeA: ta, transposeB: tb))
            cases.append(Case(m: 7, n: 65, k: 33, transposeA: ta, transposeB: tb))
        }
        cases += [Case(m: 127, n: 1, k: 65), Case(m: 33, n: 127, k: 7, batch: 2)]
        cases += [Case(m: 1025, n: 1000, k: 129), Case(m: 97, n: 259, k: 513, batch: 3, alpha: 0.5, beta: -1.25)]
        for dtype in [DType.float16, .bfloat16] {
            cases += [Case(m: 129, n: 257, k: 65, transposeB: true, dtype: dtype),
                      Case(m: 17, n: 19, k: 23, transposeA: true, batch: 2, dtype: dtype, alpha: 2, beta: 0.5)]
            // fp32 sums kept unrounded: exact to fp32's tolerance, not the operands' dtype
            cases += [Case(m: 129, n: 257, k: 65, transposeA: true, dtype: dtype, outputDType: .float32),
                      Case(m: 17, n: 19, k: 23, transposeB: true, batch: 2, dtype: dtype, alpha: -1.5, beta: 0.75,
                           outputDType: .float32)]
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
            cases.filter { !backend.isSimulator || $0.work <= 66_000 }.map { Run(backend: backend, preset: preset, test: $0) }
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
                                : randomValues(cShape.reduce(1, *), seed: seed + 2).map(test.output.round)
        let c = try floatTensor(c0, shape: cShape, test.output, engine)
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
                    let rtol = test.output == .float16 ? 0x1p-11 : test.output == .bfloat16 ? 0x1p-8 : 0
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
        // C is A's dtype or fp32 (mixed precision), nothing else; the allocating form keeps A's
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "c", expected: .float16, actual: .bfloat16)) {
            try engine.matmul(half, try half.transposed(), into: try engine.empty(shape: [3, 3], dtype: .bfloat16))
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "c", expected: .float32, actual: .float16)) {
            try engine.matmul(a, try a.transposed(), into: try engine.empty(shape: [2, 2], dtype: .float16))
        }
        let product = try engine.matmul(half, try half.transposed())
        #expect(product.dtype == .float16)
    }

    // MARK: block-skip mask on A (internal: cut cross-entropy's filtered gradients)

    struct MaskCase: CustomTestStringConvertible, Sendable {
        var m: Int, n: Int, k: Int
        /// Mask granularity: op(A) rows × columns per entry.
        var rows: Int, cols: Int
        var transposeA = false
        var beta: Float = 0
        var dtype = DType.float32
        var allDead = false
        var testDescription: String {
            "m\(m) n\(n) k\(k) blocks \(rows)x\(cols)\(transposeA ? " Aᵀ" : "") β\(beta) \(dtype)→float32"
                + (allDead ? " all dead" : "")
        }

        /// Dead entries: every row block R ≡ 1 (mod 3), the column blocks inside op(A)
        /// columns [14, 35), and a scattering of others.
        func live(_ r: Int, _ p: Int) -> Bool {
            !allDead && r % 3 != 1 && !(p * cols >= 14 && (p + 1) * cols <= 35) && (r * 7 + p * 3) % 5 != 0
        }
    }

    struct MaskRun: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let preset: KernelPreset
        let test: MaskCase
        var testDescription: String { "\(backend.label) \(preset) \(test.testDescription)" }
    }

    /// Small blocks that straddle every tile, tiles-sized ones (the CPU preset's 96 × 256:
    /// whole groups and first / last k-blocks skipped), and a group with no live block.
    static let maskCases: [MaskCase] = [
        MaskCase(m: 37, n: 29, k: 53, rows: 5, cols: 7),
        MaskCase(m: 37, n: 29, k: 53, rows: 5, cols: 7, transposeA: true, beta: 1),
        MaskCase(m: 37, n: 29, k: 53, rows: 5, cols: 7, beta: 1, dtype: .bfloat16),
        MaskCase(m: 37, n: 29, k: 53, rows: 5, cols: 7, allDead: true),
        MaskCase(m: 37, n: 29, k: 53, rows: 5, cols: 7, transposeA: true, beta: 1, allDead: true),
        MaskCase(m: 100, n: 7, k: 20, rows: 5, cols: 7, dtype: .float16),
        MaskCase(m: 201, n: 67, k: 531, rows: 96, cols: 256),
        MaskCase(m: 201, n: 67, k: 531, rows: 96, cols: 256, transposeA: true, beta: 1, dtype: .bfloat16),
    ]

    /// The mask is an OpenCL launch argument: every OpenCL device, both presets.
    static let maskRuns: [MaskRun] = TestBackend.all.filter { $0.selector != "cpu" }.flatMap { backend in
        [KernelPreset.cpu, .gpu].flatMap { preset in
            maskCases.filter { !backend.isSimulator || $0.m * $0.n * $0.k <= 60_000 }
                .map { MaskRun(backend: backend, preset: preset, test: $0) }
        }
    }

    /// A masked matmul equals the unmasked one on A with the dead blocks zeroed, exactly
    /// (±0 alike). So that a block read despite the mask shows, the masked run's A holds
    /// NaN wherever the preset's tiles let a group skip (every overlapping entry dead).
    @Test(arguments: maskRuns)
    func maskedMatchesZeroedA(run: MaskRun) throws {
        let engine = try run.backend.engine()
        let context = try #require(engine.context)
        let test = run.test
        let tiles = engine.matmulParameters(run.preset, device: context.device)
        let (maskRows, maskCols) = ((test.m + test.rows - 1) / test.rows, (test.k + test.cols - 1) / test.cols)
        func dead(_ i0: Int, _ i1: Int, _ p0: Int, _ p1: Int) -> Bool {   // op(A) rows [i0, i1) x cols [p0, p1)
            (i0 / test.rows ... (i1 - 1) / test.rows).allSatisfy { r in
                (p0 / test.cols ... (p1 - 1) / test.cols).allSatisfy { !test.live(r, $0) }
            }
        }
        let values = randomValues(test.m * test.k, seed: UInt64(test.m + test.k), in: -1 ... 1).map(test.dtype.round)
        var zeroed = values, poisoned = values   // op(A), row-major [m, k]
        for i in 0 ..< test.m {
            for p in 0 ..< test.k where !test.live(i / test.rows, p / test.cols) {
                zeroed[i * test.k + p] = 0
                // the group tile and k-block holding (i, p)
                let (i0, p0) = (i / tiles.mwg * tiles.mwg, p / tiles.kwg * tiles.kwg)
                let skipped = dead(i0, min(i0 + tiles.mwg, test.m), p0, min(p0 + tiles.kwg, test.k))
                poisoned[i * test.k + p] = skipped ? .nan : 0
            }
        }
        func stored(_ opA: [Float]) -> [Float] {   // A as the kernel reads it
            test.transposeA ? (0 ..< test.k * test.m).map { opA[($0 % test.m) * test.k + $0 / test.m] } : opA
        }
        let aShape = test.transposeA ? [test.k, test.m] : [test.m, test.k]
        let b = try floatTensor(randomValues(test.k * test.n, seed: 3, in: -1 ... 1), shape: [test.k, test.n], test.dtype, engine)
        let c0 = test.beta == 0 ? [Float](repeating: .nan, count: test.m * test.n) : randomValues(test.m * test.n, seed: 4)
        let entries = (0 ..< maskRows * maskCols).map { test.live($0 / maskCols, $0 % maskCols) }
        // a transposed A's mask is stored transposed too, and passed as a view
        let maskTensor = test.transposeA
            ? try engine.tensor((0 ..< maskRows * maskCols).map { entries[($0 % maskRows) * maskCols + $0 / maskRows] },
                                shape: [maskCols, maskRows]).transposed()
            : try engine.tensor(entries, shape: [maskRows, maskCols])

        func product(_ opA: [Float], masked: Bool) throws -> [Float] {
            let a = try floatTensor(stored(opA), shape: aShape, test.dtype, engine)
            let c = try engine.tensor(c0, shape: [test.m, test.n])
            let call = try MatmulCall(a, b, transposeA: test.transposeA, transposeB: false, alpha: 1, beta: test.beta,
                                      engine: engine)
            let mask = masked ? try MatmulBlockMask(maskTensor, rows: test.rows, cols: test.cols, for: call) : nil
            try context.serialized { try engine.encodeMatmul(call, into: c, preset: run.preset, aMask: mask, on: context) }
            return try c.toArray()
        }
        let expected = try product(zeroed, masked: false)
        let actual = try product(poisoned, masked: true)
        let wrong = (0 ..< expected.count).filter { !(actual[$0] == expected[$0]) }
        if let first = wrong.first {
            let at = "c[\(first / test.n), \(first % test.n)]"
            Issue.record("\(wrong.count) elements differ; \(at) = \(actual[first]), unmasked on zeroed A \(expected[first])")
        }
        #expect(expected.allSatisfy { $0.isFinite })
    }

    func floatTensor(_ values: [Float], shape: [Int], _ dtype: DType, _ engine: Engine) throws -> Tensor {
        switch dtype {
        case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
        case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
        default: return try engine.tensor(values, shape: shape)
        }
    }
}
