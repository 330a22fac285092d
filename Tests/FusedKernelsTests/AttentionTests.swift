import Foundation
import Testing
@testable import FusedKernels

/// Flash attention on every backend against the naive Double reference
/// (AttentionReference.swift).
///
/// Tolerance, FlashAttention's rule: per output tensor (O, LSE, dQ, dK, dV),
///
///     max|op − Double| ≤ 2·max|Float − Double| + r·max|Double| + 2⁻²²·√D·(1 + max|Double|)
///
/// where Float is the naive computation with every score materialised at the op's own
/// precision (fp32 arithmetic, outputs rounded to the storage type and Δ = dO·O read from
/// the stored O, as the op does): the op may be at most twice as far from exact as the
/// textbook computation at its precision. r is the output's storage rounding (0 for fp32,
/// 2⁻¹¹ for fp16, 2⁻⁸ for bf16): the op and the Float computation may round one value to
/// two neighbours. The floor is for tensors the Float computation happens to get almost
/// exactly (it sums in another order than the op's tiles and uses libm's exp): 4 fp32
/// ulps of the tensor's scale, grown by √D like a dot product's rounding. On the CPU path
/// the largest fp32 error seen is 0.31 of this bound (0.69 with a 1-ulp floor, the op
/// within 1.5× the Float's error); a wrong mask entry, rescale or gradient term is orders
/// of magnitude beyond it. fp16 and bf16 inputs are rounded to the storage type first, so
/// all three computations see the same values.
///
/// Beyond the rule, exactly: a row whose keys are all removed has O = 0, LSE = −∞ and
/// dQ = 0; a key no row of its group keeps has dK = dV = 0.
@Suite struct AttentionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var sizes: AttentionSizes
        var activation: AttentionActivation
        var dtype = DType.float32
        var scale: Float?
        var causal = false
        var window: AttentionWindow?
        var alibi = false
        var additive: AdditiveShape?
        /// A keep mask `[B, Hq, Lq, Lk]`, a quarter of it false and row 1 of (0, 0) wholly.
        var keep = false
        var name = "plain"
        /// Small enough for Oclgrind (≈ ≤ 2·10⁵ multiply-adds).
        var onSimulator = false

        enum AdditiveShape: String, Sendable { case rows = "[Lq,Lk]", keys = "[B,1,1,Lk]" }

        init(_ b: Int = 1, _ hq: Int = 1, _ hkv: Int = 1, lq: Int, lk: Int, d: Int, _ activation: AttentionActivation,
             name: String = "plain") {
            sizes = .init(b: b, hq: hq, hkv: hkv, lq: lq, lk: lk, d: d)
            (self.activation, self.name) = (activation, name)
        }

        /// Multiply-adds of one Q·Kᵀ: what a case costs.
        var work: Int { sizes.b * sizes.hq * sizes.lq * sizes.lk * sizes.d }
        var testDescription: String {
            let s = sizes
            return "B\(s.b) H\(s.hq)/\(s.hkv) Lq\(s.lq) Lk\(s.lk) D\(s.d) \(activation) \(dtype) \(name)"
        }

        func with(_ change: (inout Case) -> Void) -> Case {
            var copy = self
            change(&copy)
            return copy
        }
    }

    static let activations: [AttentionActivation] = [.softmax, .sigmoid()]

    /// Every D of 1…256 with Lq, Lk ∈ {1, 17, 1000} (1000 straddles the CPU path's 128-row
    /// and 256-key blocks), every option alone and all together on both orientations of
    /// 17 × 1000 (causal with Lq < Lk and Lq > Lk, where most rows keep nothing), GQA,
    /// fp16 and bf16, odd lengths one past the GPU preset's tiles (65, 33, 7), and tiny
    /// cases with every option for the simulator.
    static let cases: [Case] = activations.flatMap { act -> [Case] in
        var cases = [Case(lq: 1, lk: 1, d: 1, act).with { $0.onSimulator = true },
                     Case(2, 2, 2, lq: 17, lk: 17, d: 48, act).with { $0.onSimulator = true },
                     Case(1, 2, 1, lq: 1, lk: 1000, d: 64, act),
                     Case(lq: 1000, lk: 17, d: 80, act),
                     Case(lq: 17, lk: 1000, d: 128, act),
                     Case(lq: 17, lk: 17, d: 256, act),
                     Case(lq: 1000, lk: 1000, d: 16, act)]
        for (lq, lk) in [(17, 1000), (1000, 17)] {
            let base = Case(2, 2, 1, lq: lq, lk: lk, d: 64, act)
            cases += [
                base.with { $0.causal = true; $0.name = "causal" },
                base.with { $0.window = AttentionWindow(left: 5, right: 3); $0.name = "window(5,3)" },
                base.with { $0.window = AttentionWindow(left: nil, right: 4); $0.name = "window(nil,4)" },
                base.with { $0.window = AttentionWindow(left: 6, right: nil); $0.name = "window(6,nil)" },
                base.with { $0.alibi = true; $0.name = "alibi" },
                base.with { $0.additive = .rows; $0.name = "mask[Lq,Lk]" },
                base.with { $0.additive = .keys; $0.name = "mask[B,1,1,Lk]" },
                base.with { $0.keep = true; $0.name = "keep" },
                base.with { $0.scale = 0.3; $0.name = "scale" },
                combined(base),
            ]
        }
        cases += [combined(Case(1, 4, 1, lq: 17, lk: 1000, d: 64, act)),
                  Case(1, 4, 4, lq: 1000, lk: 17, d: 48, act).with { $0.name = "GQA 1" },
                  combined(Case(1, 2, 1, lq: 1000, lk: 1000, d: 64, act)).with { $0.window?.left = 300 },
                  combined(Case(2, 4, 2, lq: 9, lk: 5, d: 16, act)).with { $0.onSimulator = true },
                  // odd lengths across the GPU preset's 64-row, 64- and 32-key and 16-key tiles
                  Case(1, 2, 1, lq: 65, lk: 33, d: 128, act).with { $0.causal = true; $0.name = "causal" },
                  combined(Case(2, 4, 2, lq: 7, lk: 65, d: 64, act)),
                  Case(1, 2, 1, lq: 33, lk: 7, d: 8, act).with { $0.onSimulator = true },
                  combined(Case(2, 4, 2, lq: 5, lk: 9, d: 16, act)).with { $0.onSimulator = true }]
        for dtype in [DType.float16, .bfloat16] {
            cases += [Case(lq: 1000, lk: 17, d: 80, act).with { $0.dtype = dtype },
                      combined(Case(2, 4, 1, lq: 17, lk: 1000, d: 64, act)).with { $0.dtype = dtype },
                      combined(Case(1, 2, 1, lq: 5, lk: 9, d: 16, act)).with { $0.dtype = dtype; $0.onSimulator = true }]
        }
        return cases
    } + [Case(1, 2, 1, lq: 17, lk: 1000, d: 64, .sigmoid(bias: -1.5)).with { $0.alibi = true; $0.name = "alibi" },
         Case(lq: 1000, lk: 17, d: 48, .sigmoid(bias: 2)),
         Case(2, 4, 2, lq: 9, lk: 5, d: 16, .sigmoid(bias: 0.5)).with { $0.onSimulator = true }]

    /// Causal, a left window, ALiBi, an additive `[Lq, Lk]` and a keep mask together.
    static func combined(_ base: Case) -> Case {
        base.with {
            ($0.causal, $0.window, $0.alibi, $0.additive, $0.keep) = (true, AttentionWindow(left: 7, right: nil), true,
                                                                      .rows, true)
            $0.name = "combined"
        }
    }

    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let test: Case
        var preset = KernelPreset.auto
        var testDescription: String { "\(backend.label) \(test.testDescription) \(preset)" }
    }

    /// Every case on the CPU path and on the (non-simulated) device of most compute units; the
    /// GPU preset forced there on the fp32 cases of little work (its 256-item groups run
    /// one after another on a CPU device); on other devices the fp32 cases of D ≤ 64 (each
    /// (D, dtype, activation, preset) is a program build of 3–15 s on PoCL, which a
    /// clean CI machine pays for every device); Oclgrind the tiny ones with both presets.
    static let runs: [Run] = TestBackend.all.flatMap { backend -> [Run] in
        guard backend.selector != "cpu" else { return cases.map { Run(backend: backend, test: $0) } }
        if backend.isSimulator {
            return cases.filter(\.onSimulator).flatMap { [Run(backend: backend, test: $0), Run(backend: backend, test: $0, preset: .gpu)] }
        }
        let devices = TestBackend.all.filter { $0.selector != "cpu" && !$0.isSimulator }
        let full = backend.selector == devices.max { $0.computeUnits < $1.computeUnits }?.selector
        let fitting = cases.filter { $0.work <= 70_000_000 && (full || ($0.dtype == .float32 && $0.sizes.d <= 64)) }
        return fitting.map { Run(backend: backend, test: $0) } + (full ? fitting : []).filter {
            $0.dtype == .float32 && $0.work <= 5_000_000
        }.map { Run(backend: backend, test: $0, preset: .gpu) }
    }

    @Test(arguments: runs)
    func matchesDoubleReference(run: Run) throws {
        let (engine, test) = (try run.backend.engine(), run.test)
        let expected = Self.expected(test)
        let inputs = expected.inputs
        let t = try inputs.tensors(on: engine)
        let forward = try engine.attention(t.q, t.k, t.v, activation: test.activation, options: t.options,
                                           preset: run.preset)
        let gradients = try engine.attentionBackward(t.q, t.k, t.v, forward: forward, gradient: t.dO,
                                                     activation: test.activation, options: t.options,
                                                     preset: run.preset)
        let (exact, naive) = (expected.exact, expected.naive)
        let context = run.testDescription
        let check = { (tensor: Tensor?, exact: [Double]?, naive: [Float]?, name: String) throws in
            guard let exact, let naive else { return #expect(tensor == nil, "\(context): \(name) should be nil") }
            guard let tensor else {
                Issue.record("\(context): no \(name)")
                return
            }
            expectWithinRule(try tensor.toArray(), exact, naive, dtype: name == "LSE" ? .float32 : test.dtype,
                             d: test.sizes.d, "\(context): \(name)")
        }
        try check(forward.output, exact.o, naive.o, "O")
        try check(forward.logSumExp, exact.logSumExp, naive.logSumExp, "LSE")
        try check(gradients.query, exact.dq, naive.dq, "dQ")
        try check(gradients.key, exact.dk, naive.dk, "dK")
        try check(gradients.value, exact.dv, naive.dv, "dV")

        let d = test.sizes.d
        let (o, dq) = (try forward.output.toArray(), try gradients.query.toArray())
        let lse = try forward.logSumExp?.toArray()
        for (row, empty) in exact.emptyRows.enumerated() where empty {
            let rows = row * d ..< (row + 1) * d
            #expect(o[rows].allSatisfy { $0 == 0 } && dq[rows].allSatisfy { $0 == 0 },
                    "\(context): row \(row) keeps no key but O or dQ is not 0")
            #expect(lse.map { $0[row] == -.infinity } ?? true, "\(context): row \(row) keeps no key but LSE is not −∞")
        }
        let (dk, dv) = (try gradients.key.toArray(), try gradients.value.toArray())
        for (key, unused) in exact.unusedKeys.enumerated() where unused {
            let rows = key * d ..< (key + 1) * d
            #expect(dk[rows].allSatisfy { $0 == 0 } && dv[rows].allSatisfy { $0 == 0 },
                    "\(context): key \(key) is kept by no row but dK or dV is not 0")
        }
        if test.keep { #expect(exact.emptyRows[1], "\(context): the keep mask's empty row is missing") }
    }

    /// The Double backward against central differences of Σ dO·O, on tiny shapes with
    /// grouped heads, causal (Lq < Lk), ALiBi and an additive mask: checks the formulas.
    @Test(arguments: activations + [.sigmoid(bias: 0.7)])
    func referenceGradientsMatchFiniteDifferences(activation: AttentionActivation) {
        var test = Case(1, 2, 1, lq: 3, lk: 5, d: 4, activation)
        (test.causal, test.alibi, test.additive) = (true, true, .rows)
        let inputs = Inputs(test)
        let reference = inputs.reference(Double.self)
        let dO = inputs.dO.map(Double.init)
        let analytic = reference.run(gradient: dO)
        let h = 1e-6
        func difference(_ perturb: (inout NaiveAttention<Double>, Double) -> Void) -> Double {
            var (plus, minus) = (reference, reference)
            perturb(&plus, h)
            perturb(&minus, -h)
            return (plus.objective(dO) - minus.objective(dO)) / (2 * h)
        }
        let numeric = (q: reference.q.indices.map { n in difference { $0.q[n] += $1 } },
                       k: reference.k.indices.map { n in difference { $0.k[n] += $1 } },
                       v: reference.v.indices.map { n in difference { $0.v[n] += $1 } })
        for (name, a, b) in [("dQ", analytic.dq, numeric.q), ("dK", analytic.dk, numeric.k), ("dV", analytic.dv, numeric.v)] {
            expectClose(a.map(Float.init), b, rtol: 1e-5, atol: 1e-7, "\(name) of \(activation)")
            #expect(a.contains { abs($0) > 1e-3 }, "\(name) of \(activation) is all but zero: the check is empty")
        }
    }

    /// Forward and backward twice give the same bytes (tasks own their outputs, no atomics).
    @Test(arguments: TestBackend.all)
    func rerunsAreBitIdentical(backend: TestBackend) throws {
        let engine = try backend.engine()
        for activation in Self.activations {
            let test = (backend.isSimulator ? Case(1, 4, 2, lq: 9, lk: 5, d: 8, activation)
                                            : Case(1, 4, 2, lq: 300, lk: 700, d: 64, activation))
                .with { $0.window = AttentionWindow(left: 200, right: 100); $0.alibi = true }
            let t = try Inputs(test).tensors(on: engine)
            let run = {
                let forward = try engine.attention(t.q, t.k, t.v, activation: activation, options: t.options)
                let gradients = try engine.attentionBackward(t.q, t.k, t.v, forward: forward, gradient: t.dO,
                                                             activation: activation, options: t.options)
                return try [forward.output, forward.logSumExp, gradients.query, gradients.key, gradients.value]
                    .compactMap { try $0?.toArray().map(\.bitPattern) }
            }
            let first = try run()
            #expect(try run() == first, "\(backend.label) \(activation): a rerun differs")
        }
    }

    /// A NaN in one query row makes that row's O (and LSE) NaN and leaves the other rows
    /// as they were (DESIGN.md: NaN propagates to its row only).
    @Test(arguments: TestBackend.all)
    func nanStaysInItsRow(backend: TestBackend) throws {
        let engine = try backend.engine()
        for activation in Self.activations {
            let inputs = Inputs(Case(1, 2, 1, lq: 5, lk: 9, d: 8, activation))
            var q = inputs.q
            q[2 * 8 + 3] = .nan  // head 0, row 2
            let t = try inputs.tensors(on: engine)
            let clean = try engine.attention(t.q, t.k, t.v, activation: activation)
            let poisoned = try engine.attention(try engine.tensor(q, shape: [1, 2, 5, 8]), t.k, t.v, activation: activation)
            let (a, b) = (try clean.output.toArray(), try poisoned.output.toArray())
            for (index, (x, y)) in zip(a, b).enumerated() {
                let inRow = (16 ..< 24).contains(index)
                #expect(inRow ? y.isNaN : x.bitPattern == y.bitPattern, "\(backend.label) \(activation): O[\(index)] = \(y)")
            }
            if let lse = try poisoned.logSumExp?.toArray() {
                #expect(lse[2].isNaN && lse.enumerated().allSatisfy { $0.offset == 2 || $0.element.isFinite },
                        "\(backend.label): LSE \(lse)")
            }
        }
    }

    /// Bad arguments are typed errors raised before anything runs (no scratch recorded).
    @Test(arguments: TestBackend.all)
    func rejectsBadArgumentsBeforeRunning(backend: TestBackend) throws {
        let engine = try backend.engine()
        let zeros = { (shape: [Int]) in try engine.tensor([Float](repeating: 0, count: shape.reduce(1, *)), shape: shape) }
        let (q, k) = (try zeros([1, 2, 4, 8]), try zeros([1, 1, 5, 8]))
        func forward(_ query: Tensor? = nil, _ key: Tensor? = nil, _ value: Tensor? = nil,
                     options: AttentionOptions = AttentionOptions()) throws {
            _ = try engine.attention(query ?? q, key ?? k, value ?? key ?? k, activation: .softmax, options: options)
        }
        _ = engine.takeScratchHighWater()
        #expect(throws: FusedKernelsError.invalidShape(argument: "query", shape: [2, 4, 8], reason: "must be [B, Hq, Lq, D]")) {
            try forward(try zeros([2, 4, 8]))
        }
        #expect(throws: FusedKernelsError.invalidShape(argument: "key", shape: [1, 5, 8], reason:
            "must be [1, Hkv, Lk, 8] with Hkv dividing the 2 query heads")) { try forward(nil, try zeros([1, 5, 8])) }
        #expect(throws: FusedKernelsError.invalidShape(argument: "key", shape: [1, 3, 5, 8], reason:
            "must be [1, Hkv, Lk, 8] with Hkv dividing the 2 query heads")) { try forward(nil, try zeros([1, 3, 5, 8])) }
        #expect(throws: FusedKernelsError.invalidShape(argument: "query", shape: [1, 1, 2, 257], reason:
            "head size 257 is above 256")) { try forward(try zeros([1, 1, 2, 257]), try zeros([1, 1, 2, 257])) }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "value", expected: [1, 1, 5, 8], actual: [1, 1, 6, 8])) {
            try forward(nil, nil, try zeros([1, 1, 6, 8]))
        }
        let halfKey = try engine.tensor([Float16](repeating: 0, count: 40), shape: [1, 1, 5, 8])
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "key", expected: .float32, actual: .float16)) {
            try forward(nil, halfKey, k)
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "additiveMask", expected: [1, 2, 4, 5], actual: [3, 5])) {
            try forward(options: AttentionOptions(additiveMask: try zeros([3, 5])))
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "keepMask", expected: .bool, actual: .float32)) {
            try forward(options: AttentionOptions(keepMask: try zeros([4, 5])))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "alibiSlopes", expected: [2], actual: [3])) {
            try forward(options: AttentionOptions(alibiSlopes: try zeros([3])))
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "window", reason: "left must be ≥ 0, got -1")) {
            try forward(options: AttentionOptions(window: AttentionWindow(left: -1, right: nil)))
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "scale", reason: "must be finite, got inf")) {
            try forward(options: AttentionOptions(scale: .infinity))
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "forward.logSumExp", reason:
            "the softmax backward needs the forward's log-sum-exp")) {
            _ = try engine.attentionBackward(q, k, k, forward: AttentionOutput(output: try zeros([1, 2, 4, 8]), logSumExp: nil),
                                             gradient: try zeros([1, 2, 4, 8]), activation: .softmax)
        }
        #expect(engine.takeScratchHighWater() == 0, "\(backend.label): a rejected call allocated scratch")
    }

    /// The CPU path's scratch does not grow with Lk (fp32 inputs are read in place; the
    /// tiles are fixed), so no Lq × Lk buffer exists: here that would be 8 MB.
    @Test func cpuScratchDoesNotGrowWithKeys() throws {
        let engine = try Engine(device: "cpu")
        var scratch: [Int] = []
        for lk in [1000, 2000] {
            let t = try Inputs(Case(lq: 1000, lk: lk, d: 16, .softmax)).tensors(on: engine)
            _ = engine.takeScratchHighWater()
            let forward = try engine.attention(t.q, t.k, t.v, activation: .softmax)
            _ = try engine.attentionBackward(t.q, t.k, t.v, forward: forward, gradient: t.dO, activation: .softmax)
            scratch.append(engine.takeScratchHighWater())
        }
        #expect(scratch[0] > 0 && scratch[0] == scratch[1], "scratch \(scratch) B for Lk 1000 and 2000")
    }

    // MARK: Helpers

    /// The Double reference and the materialised Float computation of a case, computed
    /// once per case for every backend and preset.
    static func expected(_ test: Case) -> Expected {
        let key = test.testDescription
        if let cached = expectedCache.withLock({ $0[key] }) { return cached }
        let inputs = Inputs(test)
        let exact = inputs.reference(Double.self).run(gradient: inputs.dO.map(Double.init))
        let naive = inputs.reference(Float.self).run(gradient: inputs.dO)
        let expected = Expected(inputs: inputs, exact: exact, naive: naive)
        expectedCache.withLock { $0[key] = expected }
        return expected
    }

    struct Expected: @unchecked Sendable {
        let inputs: Inputs
        let exact: NaiveAttention<Double>.Result
        let naive: NaiveAttention<Float>.Result
    }

    static let expectedCache = LockedDictionary<String, Expected>()

    /// The rule of the suite's doc comment over one tensor (−∞ must meet −∞ exactly).
    func expectWithinRule(_ actual: [Float], _ exact: [Double], _ naive: [Float], dtype: DType, d: Int,
                          _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == exact.count, "\(context): count", sourceLocation: sourceLocation)
        var (scale, naiveError, error, worst) = (0.0, 0.0, 0.0, 0)
        for (index, (e, n)) in zip(exact, naive).enumerated() where e.isFinite {
            scale = max(scale, abs(e))
            naiveError = max(naiveError, abs(Double(n) - e))
            let a = abs(Double(actual[index]) - e)
            if !(a <= error) { (error, worst) = (a.isNaN ? .infinity : a, index) }
        }
        for (index, e) in exact.enumerated() where !e.isFinite && Double(actual[index]) != e {
            Issue.record("\(context): element \(index) is \(actual[index]), expected \(e)", sourceLocation: sourceLocation)
        }
        let rounding = dtype == .float16 ? 0x1p-11 : dtype == .bfloat16 ? 0x1p-8 : 0
        let bound = 2 * naiveError + rounding * scale + 0x1p-22 * Double(d).squareRoot() * (1 + scale)
        #expect(error <= bound, """
            \(context): max error \(error) at \(worst) (\(actual[worst]) vs \(exact[worst])) above \(bound) \
            (the materialised Float's \(naiveError), scale \(scale))
            """, sourceLocation: sourceLocation)
    }

    /// A case's inputs on the host, rounded to its dtype: Q and K in [−2, 2), V and dO in
    /// [−1, 1), an additive mask in [−3, 1), ALiBi slopes 2^(−8(h+1)/Hq).
    struct Inputs {
        let test: Case
        let q: [Float], k: [Float], v: [Float], dO: [Float]
        let additive: HostMask<Float>?
        let keep: HostMask<Bool>?
        let slopes: [Float]?

        init(_ test: Case) {
            let s = test.sizes
            let seed = UInt64(s.b + 3 * s.hq + 7 * s.hkv + 31 * s.lq + 131 * s.lk + 1009 * s.d)
            let round = { (values: [Float]) in values.map(test.dtype.round) }
            let (queries, keys) = (s.b * s.hq * s.lq * s.d, s.b * s.hkv * s.lk * s.d)
            self.test = test
            q = round(randomValues(queries, seed: seed, in: -2 ... 2))
            k = round(randomValues(keys, seed: seed + 1, in: -2 ... 2))
            v = round(randomValues(keys, seed: seed + 2, in: -1 ... 1))
            dO = round(randomValues(queries, seed: seed + 3, in: -1 ... 1))
            additive = test.additive.map { shape in
                let dims = shape == .rows ? [s.lq, s.lk] : [s.b, 1, 1, s.lk]
                return HostMask(values: randomValues(dims.reduce(1, *), seed: seed + 4, in: -3 ... 1), shape: dims)
            }
            keep = test.keep ? {
                let dims = [s.b, s.hq, s.lq, s.lk]
                var values = randomValues(dims.reduce(1, *), seed: seed + 5, in: 0 ... 1).map { $0 >= 0.25 }
                for j in 0 ..< s.lk where s.lq > 1 { values[s.lk + j] = false }  // (0, 0, row 1) keeps nothing
                return HostMask(values: values, shape: dims)
            }() : nil
            slopes = test.alibi ? (0 ..< s.hq).map { Float(pow(2, -8 * Double($0 + 1) / Double(s.hq))) } : nil
        }

        /// The naive computation in T: the scale and sigmoid bias are the fp32 values the op uses.
        func reference<T: NaiveReal>(_ type: T.Type) -> NaiveAttention<T> {
            let s = test.sizes
            var bias: Float = 0
            if case let .sigmoid(given) = test.activation { bias = given ?? -Float(log(Double(s.lk))) }
            return NaiveAttention<T>(q: q.map(T.init), k: k.map(T.init), v: v.map(T.init), sizes: s,
                                     isSoftmax: test.activation == .softmax,
                                     scale: T(test.scale ?? 1 / Float(s.d).squareRoot()), sigmoidBias: T(bias),
                                     slopes: slopes?.map(T.init), additive: additive?.map(T.init), keep: keep,
                                     causal: test.causal, window: test.window,
                                     storage: T.self == Double.self ? nil : test.dtype)
        }

        struct Tensors {
            let q: Tensor, k: Tensor, v: Tensor, dO: Tensor
            let options: AttentionOptions
        }

        func tensors(on engine: Engine) throws -> Tensors {
            let s = test.sizes
            let floats = { (values: [Float], shape: [Int]) -> Tensor in
                switch test.dtype {
                case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
                case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
                default: return try engine.tensor(values, shape: shape)
                }
            }
            let (queryShape, keyShape) = ([s.b, s.hq, s.lq, s.d], [s.b, s.hkv, s.lk, s.d])
            let options = AttentionOptions(
                scale: test.scale, causal: test.causal, window: test.window,
                alibiSlopes: try slopes.map { try engine.tensor($0, shape: [s.hq]) },
                additiveMask: try additive.map { try engine.tensor($0.values, shape: $0.shape) },
                keepMask: try keep.map { try engine.tensor($0.values, shape: $0.shape) })
            return Tensors(q: try floats(q, queryShape), k: try floats(k, keyShape), v: try floats(v, keyShape),
                           dO: try floats(dO, queryShape), options: options)
        }
    }
}

/// A dictionary shared by concurrently running tests.
final class LockedDictionary<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Key: Value] = [:]

    func withLock<R>(_ body: (inout [Key: Value]) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&storage)
    }
}
