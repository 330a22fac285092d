import Foundation
import Testing
@testable import FusedKernels

/// The linear cross-entropy on every backend against the Double reference
/// (CrossEntropyReference.swift).
///
/// Tolerances. The op rounds each logit by its fp32 dot product, an error of order
/// 2^-24·√D·Σ_k|E_ik·C_jk|, so with Z = the largest Σ_k|E_ik·C_jk| + |b_j| (the reference's
/// `logitScale`) and T = 2^-20·√D (16× that order of error, for the exp, the sums and
/// the sgemm's blocking):
/// - loss and LSE: |Δ| ≤ T·(1 + Z)·(1 + 2λ·|LSE|) per token (a mean or sum of them for
///   the reduced loss), plus 1e-6 relative;
/// - gradients: |Δ| ≤ r·|ref| + T·(1 + Z)·S, where S is the sum of the absolute terms
///   of the element (`Gradients.eScale` …) and r the rounding of the stored gradient:
///   0 for fp32, 2^-11 (plus 2^-25 absolute, fp16's subnormal half-step) for fp16,
///   2^-8 for bf16. fp16 and bf16 inputs are rounded first, so the reference sees the
///   values the op reads; arithmetic is fp32 in both, so the forward keeps fp32's bound.
@Suite struct CrossEntropyTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var n: Int, d: Int, v: Int
        var options = CrossEntropyOptions(gradientFilter: nil)
        var hasBias = false
        var dtype = DType.float32
        /// Every `ignoredEvery`-th token (from the second) is ignored; 0: none.
        var ignoredEvery = 0
        var name = ""
        var work: Int { n * d * v }
        var testDescription: String { "n\(n) d\(d) v\(v) \(dtype) \(name)" }
    }

    static func options(_ reduction: CrossEntropyOptions.Reduction = .mean, ignoreIndex: Int32 = -100,
                        smoothing: Float = 0, zLoss: Float = 0, softCap: Float? = nil) -> CrossEntropyOptions {
        CrossEntropyOptions(reduction: reduction, ignoreIndex: ignoreIndex, labelSmoothing: smoothing, zLoss: zLoss,
                            softCap: softCap, gradientFilter: nil, returnLogSumExp: true)
    }

    /// Odd sizes (N = 257 straddles the kernels' 96-row tiles and 1025 the CPU path's
    /// 1024-token block, V = 1030 its 512-column block and 50257 many of them), every
    /// option alone and combined, fp16 and bf16.
    static let cases: [Case] = {
        var cases: [Case] = []
        for (n, d, v) in [(1, 1, 1), (3, 17, 2), (1, 100, 2), (257, 1, 2), (257, 17, 1), (257, 100, 2), (3, 17, 50257),
                          (1, 1, 50257), (257, 17, 1030), (3, 100, 1030), (1025, 3, 2)] {
            cases.append(Case(n: n, d: d, v: v, options: options(), name: "plain"))
        }
        for (n, d, v) in [(3, 17, 2), (257, 17, 1030)] {
            cases += [
                Case(n: n, d: d, v: v, options: options(smoothing: 0.1), ignoredEvery: 3, name: "smoothing+ignore"),
                Case(n: n, d: d, v: v, options: options(.none), ignoredEvery: 2, name: "none+ignore"),
                Case(n: n, d: d, v: v, options: options(.sum), name: "sum"),
                Case(n: n, d: d, v: v, options: options(zLoss: 1e-2, softCap: 3), name: "softcap+zloss"),
                Case(n: n, d: d, v: v, options: options(), hasBias: true, name: "bias"),
                Case(n: n, d: d, v: v, options: options(.none, ignoreIndex: 1, smoothing: 0.2, zLoss: 1e-3, softCap: 4),
                     hasBias: true, ignoredEvery: 4, name: "everything, ignoreIndex 1"),
            ]
        }
        // The whole vocabulary's V in label smoothing, and ignored rows, at V = 50257.
        cases += [Case(n: 3, d: 17, v: 50257, options: options(smoothing: 0.1), ignoredEvery: 3, name: "smoothing+ignore"),
                  Case(n: 3, d: 17, v: 50257, options: options(.none, ignoreIndex: 1, smoothing: 0.2, zLoss: 1e-3, softCap: 4),
                       hasBias: true, ignoredEvery: 2, name: "everything, ignoreIndex 1")]
        for dtype in [DType.float16, .bfloat16] {
            cases += [Case(n: 257, d: 17, v: 1030, options: options(smoothing: 0.1), hasBias: true, dtype: dtype,
                           ignoredEvery: 3, name: "smoothing+bias"),
                      Case(n: 3, d: 17, v: 2, options: options(.sum, zLoss: 1e-2, softCap: 3), dtype: dtype,
                           name: "softcap+zloss")]
        }
        return cases
    }()

    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let test: Case
        var preset = KernelPreset.auto
        var testDescription: String { "\(backend.label) \(test.testDescription) \(preset)" }
    }

    /// Every case on every backend with the device's own preset; on OpenCL devices also
    /// the GPU preset (cooperating work-groups, __local tiles) on the cases that mix
    /// options and dtypes, with tile-straddling sizes.
    static let runs: [Run] = TestBackend.all.flatMap { backend in
        let fitting = cases.filter { $0.work <= backend.elementBudget }
        let gpu = backend.selector == "cpu" ? [] : fitting.filter {
            $0.name.hasPrefix("everything") || $0.dtype != .float32 || ($0.name == "plain" && $0.v > 2)
        }
        return fitting.map { Run(backend: backend, test: $0) } + gpu.map { Run(backend: backend, test: $0, preset: .gpu) }
    }

    @Test(arguments: runs)
    func matchesDoubleReference(run: Run) throws {
        let (engine, test) = (try run.backend.engine(), run.test)
        let inputs = Inputs(test, seed: UInt64(test.n * 31 + test.d * 7 + test.v))
        let reference = inputs.reference(test.options)
        let upstream = test.options.reduction == .none ? randomValues(test.n, seed: 9, in: 0.5 ... 2) : [1.5]

        let tensors = try inputs.tensors(on: engine)
        let output = try engine.linearCrossEntropy(tensors.e, tensors.c, targets: tensors.targets, bias: tensors.bias,
                                                   options: test.options, preset: run.preset)
        let (lossBound, lseBound) = forwardBounds(reference)
        expectClose(try output.loss.toArray(), reference.reducedLoss, rtol: 1e-6, atol: lossBound,
                    "\(run.testDescription): loss")
        expectClose(try output.logSumExp!.toArray(), reference.forward.logSumExp, rtol: 1e-6, atol: lseBound,
                    "\(run.testDescription): LSE")

        let gradients = try engine.linearCrossEntropyBackward(
            tensors.e, tensors.c, targets: tensors.targets, bias: tensors.bias,
            upstream: try engine.tensor(upstream, shape: [upstream.count]), options: test.options, preset: run.preset)
        let expected = reference.gradients(upstream: upstream.map(Double.init))
        expectGradients(gradients, expected, reference: reference, dtype: test.dtype, run.testDescription)
    }

    /// The reference's gradients against central differences of its own objective, on
    /// tiny shapes with every option: checks the reference (and so the formulas) itself.
    @Test(arguments: [options(), options(.none, smoothing: 0.3, zLoss: 0.05, softCap: 2),
                      options(.sum, ignoreIndex: 2, smoothing: 0.1, softCap: 1.5)])
    func referenceGradientsMatchFiniteDifferences(options: CrossEntropyOptions) {
        let test = Case(n: 4, d: 3, v: 5, options: options, hasBias: true, ignoredEvery: 3)
        let inputs = Inputs(test, seed: 11)
        let reference = inputs.reference(options)
        let upstream = options.reduction == .none ? [0.5, 1.5, -1, 2] : [1.25]
        let analytic = reference.gradients(upstream: upstream)
        let h = 1e-6
        func difference(_ perturb: (inout CrossEntropyReference, Double) -> Void) -> Double {
            var (plus, minus) = (reference, reference)
            perturb(&plus, h)
            perturb(&minus, -h)
            return (plus.objective(upstream: upstream) - minus.objective(upstream: upstream)) / (2 * h)
        }
        let numeric = (e: reference.e.indices.map { k in difference { $0.e[k] += $1 } },
                       c: reference.c.indices.map { k in difference { $0.c[k] += $1 } },
                       bias: reference.bias!.indices.map { k in difference { $0.bias![k] += $1 } })
        for (name, a, b) in [("dE", analytic.e, numeric.e), ("dC", analytic.c, numeric.c), ("dBias", analytic.bias, numeric.bias)] {
            expectClose(a.map(Float.init), b, rtol: 1e-6, atol: 1e-7, "\(name) with \(options)")
        }
        #expect(analytic.e.contains { $0 != 0 } && analytic.c.contains { $0 != 0 })
    }

    /// Filtered against exact. Logits are peaked: token i's embedding points along axis
    /// i mod d, as do the classifier rows of the targets of tokens with the same axis, all
    /// among the first 600 columns; so the mass sits on those, columns ≥ 600 hold no
    /// target and p ≈ 1e-5 < filter there, and blocks of them are skipped. Bound: a skipped entry's |dz_ij| is
    /// w_i·|s·p_ij − ε/V|·cap' < w_i·filter, so for the dropped set S,
    /// |Δ dE_ik| ≤ Σ_{j: (i,j)∈S} w_i·filter·|C_jk| ≤ w_i·filter·Σ_j |C_jk| and
    /// |Δ dC_jk| ≤ filter·Σ_i w_i·|E_ik| (plus the exact paths' fp32 tolerance).
    @Test(arguments: TestBackend.all.filter { !$0.isSimulator })
    func filteredWithinBound(backend: TestBackend) throws {
        let engine = try backend.engine()
        let (n, d, v) = (300, 8, 3000)
        let targets = (0 ..< n).map { Int32(($0 * 37) % 600) }  // few blocks of columns hold targets
        var c = randomValues(v * d, seed: 3, in: -0.25 ... 0.25)
        var e = randomValues(n * d, seed: 4, in: -0.25 ... 0.25)
        for i in 0 ..< n {
            for k in 0 ..< d {
                e[i * d + k] += k == i % d ? 3 : 0
                c[Int(targets[i]) * d + k] = k == i % d ? 3 : c[Int(targets[i]) * d + k]
            }
        }
        let filter: Float = 0x1p-12
        var options = Self.options(.sum)
        let inputs = Inputs(e: e, c: c, bias: nil, targets: targets, d: d, dtype: .float32)
        let tensors = try inputs.tensors(on: engine)
        let run = { (options: CrossEntropyOptions) in
            try engine.linearCrossEntropyBackward(tensors.e, tensors.c, targets: tensors.targets, options: options)
        }
        let exact = try run(options)
        options.gradientFilter = filter
        let filtered = try run(options)
        let reference = inputs.reference(options)
        let fp32 = 0x1p-20 * Double(d).squareRoot() * (1 + reference.logitScale)
        let expected = reference.gradients(upstream: [1])
        let cColumnSums = (0 ..< d).map { k in (0 ..< v).reduce(0.0) { $0 + abs(Double(c[$1 * d + k])) } }
        let eColumnSums = (0 ..< d).map { k in (0 ..< n).reduce(0.0) { $0 + abs(Double(e[$1 * d + k])) } }
        let (exactE, filteredE) = (try exact.embeddings.toArray(), try filtered.embeddings.toArray())
        let (exactC, filteredC) = (try exact.classifier.toArray(), try filtered.classifier.toArray())
        var (worstE, worstC) = (0, 0)
        for index in exactE.indices {
            let bound = Double(filter) * cColumnSums[index % d] + fp32 * expected.eScale[index]
            worstE += abs(Double(filteredE[index]) - Double(exactE[index])) <= bound ? 0 : 1
        }
        for index in exactC.indices {
            let bound = Double(filter) * eColumnSums[index % d] + fp32 * expected.cScale[index]
            worstC += abs(Double(filteredC[index]) - Double(exactC[index])) <= bound ? 0 : 1
        }
        #expect(worstE == 0 && worstC == 0, "\(backend.label): \(worstE) dE and \(worstC) dC entries beyond the bound")
        // The filter dropped something (else this test checks nothing) and kept the targets' rows.
        #expect(zip(exactC, filteredC).contains { $0 != $1 }, "\(backend.label): filtering skipped no block")
        expectGradients(filtered, expected, reference: reference, dtype: .float32, "\(backend.label) filtered",
                        extra: (Double(filter) * cColumnSums.max()!, Double(filter) * eColumnSums.max()!))
    }

    /// Reruns give the same bits (no atomics, fixed block order, fixed BLAS partition).
    @Test(arguments: TestBackend.all)
    func rerunsAreBitIdentical(backend: TestBackend) throws {
        let engine = try backend.engine()
        let test = backend.isSimulator ? Case(n: 5, d: 7, v: 30) : Case(n: 257, d: 33, v: 2100)
        var options = Self.options(smoothing: 0.1, zLoss: 1e-3)
        options.gradientFilter = 0x1p-12
        let tensors = try Inputs(test, seed: 21).tensors(on: engine)
        let run = {
            let forward = try engine.linearCrossEntropy(tensors.e, tensors.c, targets: tensors.targets, bias: tensors.bias,
                                                        options: options)
            let backward = try engine.linearCrossEntropyBackward(tensors.e, tensors.c, targets: tensors.targets,
                                                                 bias: tensors.bias, options: options)
            return try [forward.loss, forward.logSumExp!, backward.embeddings, backward.classifier].map {
                try $0.toArray().map(\.bitPattern)
            }
        }
        let first = try run()
        for _ in 0 ..< 2 { #expect(try run() == first, "\(backend.label): a rerun differs") }
    }

    /// Every target ignored: loss 0 (the mean too), zero gradients, no NaN.
    @Test(arguments: TestBackend.all)
    func allIgnoredBatch(backend: TestBackend) throws {
        let engine = try backend.engine()
        var inputs = Inputs(Case(n: 3, d: 4, v: 6, hasBias: true), seed: 2)
        inputs.targets = [-100, -100, -100]
        let tensors = try inputs.tensors(on: engine)
        for reduction in CrossEntropyOptions.Reduction.allCases {
            let options = Self.options(reduction, smoothing: 0.1, zLoss: 0.1)
            let loss = try engine.linearCrossEntropy(tensors.e, tensors.c, targets: tensors.targets, bias: tensors.bias,
                                                     options: options).loss.toArray()
            #expect(loss == [Float](repeating: 0, count: reduction == .none ? 3 : 1), "\(backend.label) \(reduction)")
            let gradients = try engine.linearCrossEntropyBackward(tensors.e, tensors.c, targets: tensors.targets,
                                                                  bias: tensors.bias, options: options)
            for tensor in [gradients.embeddings, gradients.classifier, gradients.bias!] {
                #expect(try tensor.toArray().allSatisfy { $0 == 0 }, "\(backend.label) \(reduction): gradient not zero")
            }
        }
    }

    /// The vocabulary split over two engines (PoCL's pthread device when there is one, and
    /// the CPU path): merged statistics give the unsplit loss and LSE; shard backwards with
    /// the merged LSE sum to the unsplit dE and concatenate to its dC and dBias.
    @Test func vocabularyShardsMatchTheUnsplitOp() throws {
        let (n, d, v, split) = (37, 9, 1500, 1100)
        let options = Self.options(.none, smoothing: 0.1, zLoss: 1e-2, softCap: 5)
        var inputs = Inputs(Case(n: n, d: d, v: v, hasBias: true, ignoredEvery: 5), seed: 8)
        inputs.targets = (0 ..< n).map { $0 % 5 == 1 ? -100 : Int32(($0 * 211) % v) }  // targets in both shards
        let cpu = try Engine(device: "cpu")
        let shardEngines = [(try? Engine(device: "pthread")) ?? cpu, cpu]
        let ranges = [0 ..< split, split ..< v]

        let whole = try inputs.tensors(on: cpu)
        let unsplit = try cpu.linearCrossEntropy(whole.e, whole.c, targets: whole.targets, bias: whole.bias, options: options)
        let unsplitGradients = try cpu.linearCrossEntropyBackward(whole.e, whole.c, targets: whole.targets,
                                                                  bias: whole.bias, options: options)

        let shards = try zip(shardEngines, ranges).map { engine, range in
            (engine, range, try inputs.shard(range).tensors(on: engine))
        }
        let statistics = try CrossEntropyStatistics.merging(shards.map { engine, range, t in
            try engine.linearCrossEntropyStatistics(t.e, t.c, targets: t.targets, bias: t.bias,
                                                    shard: VocabularyShard(range, of: v), options: options)
        })
        let (losses, lse) = statistics.losses(targets: inputs.targets, options: options)
        let (expectedLoss, expectedLSE) = (try unsplit.loss.toArray(), try unsplit.logSumExp!.toArray())
        expectClose(statistics.reduce(losses, targets: inputs.targets, options: options), expectedLoss.map(Double.init),
                    rtol: 1e-5, atol: 1e-5, "merged loss")
        expectClose(lse, expectedLSE.map(Double.init), rtol: 1e-5, atol: 1e-5, "merged LSE")

        var dE = [Float](repeating: 0, count: n * d)
        var (dC, dBias) = ([Float](), [Float]())
        for (engine, range, t) in shards {
            let gradients = try engine.linearCrossEntropyBackward(
                t.e, t.c, targets: t.targets, bias: t.bias, logSumExp: try engine.tensor(lse, shape: [n]),
                shard: VocabularyShard(range, of: v), options: options)
            for (k, value) in try gradients.embeddings.toArray().enumerated() { dE[k] += value }
            dC += try gradients.classifier.toArray()
            dBias += try gradients.bias!.toArray()
        }
        let scale = try unsplitGradients.embeddings.toArray().map { abs($0) }.max()!
        expectClose(dE, try unsplitGradients.embeddings.toArray().map(Double.init), rtol: 1e-5, atol: 1e-5 * Double(scale),
                    "shards' dE sum")
        expectClose(dC, try unsplitGradients.classifier.toArray().map(Double.init), rtol: 1e-5, atol: 1e-7, "shards' dC")
        expectClose(dBias, try unsplitGradients.bias!.toArray().map(Double.init), rtol: 1e-5, atol: 1e-7, "shards' dBias")
    }

    /// Bad arguments are typed errors raised before anything runs (no scratch recorded).
    @Test(arguments: TestBackend.all)
    func rejectsBadArgumentsBeforeRunning(backend: TestBackend) throws {
        let engine = try backend.engine()
        let t = try Inputs(Case(n: 3, d: 4, v: 5, hasBias: true), seed: 1).tensors(on: engine)
        let targets = { (values: [Int32]) in try engine.tensor(values, shape: [values.count]) }
        func forward(_ e: Tensor? = nil, _ c: Tensor? = nil, targets: Tensor? = nil, bias: Tensor? = nil,
                     options: CrossEntropyOptions = CrossEntropyOptions()) throws {
            _ = try engine.linearCrossEntropy(e ?? t.e, c ?? t.c, targets: targets ?? t.targets, bias: bias ?? t.bias,
                                              options: options)
        }
        _ = engine.takeScratchHighWater()
        #expect(throws: FusedKernelsError.invalidArgument(argument: "targets", reason:
            "position 2 holds 5, outside [0, 5) and not ignoreIndex (-100)")) { try forward(targets: try targets([0, 4, 5])) }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "targets", reason:
            "position 0 holds -1, outside [0, 5) and not ignoreIndex (-100)")) { try forward(targets: try targets([-1, 0, 0])) }
        for (options, argument) in [(CrossEntropyOptions(labelSmoothing: 1.5), "labelSmoothing"),
                                    (CrossEntropyOptions(zLoss: -1), "zLoss"), (CrossEntropyOptions(softCap: 0), "softCap"),
                                    (CrossEntropyOptions(gradientFilter: .nan), "gradientFilter")] {
            do {
                try forward(options: options)
                Issue.record("\(argument): accepted")
            } catch let FusedKernelsError.invalidArgument(name, _) {
                #expect(name == argument)
            }
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "classifier", expected: [5, 4], actual: [5, 3])) {
            try forward(nil, try engine.tensor([Float](repeating: 0, count: 15), shape: [5, 3]))
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "classifier", expected: .float32, actual: .float16)) {
            try forward(nil, try engine.tensor([Float16](repeating: 0, count: 20), shape: [5, 4]))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "targets", expected: [3], actual: [2])) {
            try forward(targets: try targets([0, 1]))
        }
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "targets", expected: .int32, actual: .float32)) {
            try forward(targets: try engine.tensor([Float](repeating: 0, count: 3), shape: [3]))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "bias", expected: [5], actual: [4])) {
            try forward(bias: try engine.tensor([Float](repeating: 0, count: 4), shape: [4]))
        }
        #expect(throws: FusedKernelsError.self, "shard beyond the vocabulary") {
            _ = try engine.linearCrossEntropyStatistics(t.e, t.c, targets: t.targets, shard: VocabularyShard(3 ..< 8, of: 6))
        }
        #expect(throws: FusedKernelsError.self, "shard of another width than the classifier") {
            _ = try engine.linearCrossEntropyStatistics(t.e, t.c, targets: t.targets, shard: VocabularyShard(0 ..< 4, of: 6))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "upstream", expected: [1], actual: [3])) {
            _ = try engine.linearCrossEntropyBackward(t.e, t.c, targets: t.targets,
                                                      upstream: try engine.tensor([Float](repeating: 1, count: 3), shape: [3]))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "upstream", expected: [3], actual: [1])) {
            _ = try engine.linearCrossEntropyBackward(t.e, t.c, targets: t.targets, upstream: try engine.tensor([Float(1)], shape: [1]),
                                                      options: CrossEntropyOptions(reduction: .none))
        }
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "logSumExp", expected: [3], actual: [2])) {
            _ = try engine.linearCrossEntropyBackward(t.e, t.c, targets: t.targets,
                                                      logSumExp: try engine.tensor([Float](repeating: 0, count: 2), shape: [2]))
        }
        #expect(throws: FusedKernelsError.self, "a shard's backward without the merged LSE") {
            _ = try engine.linearCrossEntropyBackward(t.e, t.c, targets: t.targets, shard: VocabularyShard(0 ..< 5, of: 9))
        }
        #expect(engine.takeScratchHighWater() == 0, "\(backend.label): a rejected call allocated scratch")
    }

    /// The CPU path's scratch: one logit block (≤ 1 MB) and a few floats per token, far
    /// below the N×V logits it avoids (here 300×5000×4 B = 6 MB; at N = 1024, V = 65536 the
    /// 1 MB block is 0.4 % of 256 MB).
    @Test func cpuScratchIsOneBlock() throws {
        let engine = try Engine(device: "cpu")
        let test = Case(n: 300, d: 8, v: 5000)
        let t = try Inputs(test, seed: 5).tensors(on: engine)
        _ = engine.takeScratchHighWater()
        _ = try engine.linearCrossEntropy(t.e, t.c, targets: t.targets)
        let bound = CrossEntropyBlocks.tokenCount * CrossEntropyBlocks.columnCount * 4 + 64 * test.n
        let forward = engine.takeScratchHighWater()
        #expect(forward > 0 && forward <= bound, "forward scratch \(forward) B")
        _ = try engine.linearCrossEntropyBackward(t.e, t.c, targets: t.targets)
        let backward = engine.takeScratchHighWater()
        #expect(backward > 0 && backward <= 2 * bound, "backward scratch \(backward) B")
    }

    // MARK: Helpers

    /// Checks dE, dC and dBias against the reference with the suite's gradient bound
    /// (`extra`: a further absolute allowance for dE and dC).
    func expectGradients(_ gradients: LinearCrossEntropyGradients, _ expected: CrossEntropyReference.Gradients,
                         reference: CrossEntropyReference, dtype: DType, _ context: String,
                         extra: (e: Double, c: Double) = (0, 0), sourceLocation: SourceLocation = #_sourceLocation) {
        let (rounding, floor) = dtype == .float16 ? (0x1p-11, 0x1p-25) : dtype == .bfloat16 ? (0x1p-8, 0) : (0, 0)
        // terms: the length of each gradient's sum (V for dE, N for dC and dBias). fp32
        // accumulation error grows with √terms; on OpenCL the logit gradient is rounded to
        // the storage dtype before its products (as in the paper), so with fp16 each term
        // may also lose fp16's subnormal resolution (the floor) times |E| or |C| ≤ 1.
        func check(_ tensor: Tensor?, _ values: [Double], _ scale: [Double], _ extra: Double, _ name: String,
                   terms: Int) {
            let t = 0x1p-20 * Double(max(reference.d, terms)).squareRoot() * (1 + reference.logitScale)
            guard let tensor else { return #expect(Bool(false), "\(context): no \(name)", sourceLocation: sourceLocation) }
            let actual = (try? tensor.toArray()) ?? []
            #expect(actual.count == values.count, "\(context): \(name) count", sourceLocation: sourceLocation)
            var failures = 0
            for (index, (a, e)) in zip(actual, values).enumerated() {
                // rounding of the output, and of the logit gradient before its products (OpenCL
                // stores it in the storage dtype, as the paper does)
                let bound = rounding * (abs(e) + scale[index]) + floor * Double(1 + terms) + t * scale[index] + extra
                if !(abs(Double(a) - e) <= bound) {
                    failures += 1
                    if failures <= 3 {
                        Issue.record("\(context): \(name)[\(index)] = \(a), expected \(e) ± \(bound)",
                                     sourceLocation: sourceLocation)
                    }
                }
            }
            #expect(failures == 0, "\(context): \(failures) \(name) elements out of tolerance", sourceLocation: sourceLocation)
        }
        check(gradients.embeddings, expected.e, expected.eScale, extra.e, "dE", terms: reference.v)
        check(gradients.classifier, expected.c, expected.cScale, extra.c, "dC", terms: reference.n)
        if reference.bias != nil { check(gradients.bias, expected.bias, expected.biasScale, 0, "dBias", terms: reference.n) }
    }

    /// The forward bounds of the suite (loss as reduced, per-token LSE).
    func forwardBounds(_ reference: CrossEntropyReference) -> (loss: Double, lse: Double) {
        let t = 0x1p-20 * Double(reference.d).squareRoot() * (1 + reference.logitScale)
        let lse = reference.forward.logSumExp
        let perToken = t * (1 + 2 * Double(reference.options.zLoss) * (lse.map(abs).max() ?? 0))
        return (reference.options.reduction == .sum ? perToken * Double(reference.n) : perToken, t)
    }

    /// Host inputs, rounded to the storage dtype: E in [−1, 1), C in [−1, 1), bias in
    /// [−2, 2), targets spread over the vocabulary.
    struct Inputs {
        var e: [Float], c: [Float], bias: [Float]?
        var targets: [Int32]
        let d: Int
        let dtype: DType

        init(e: [Float], c: [Float], bias: [Float]?, targets: [Int32], d: Int, dtype: DType) {
            (self.e, self.c, self.bias, self.targets, self.d, self.dtype) = (e, c, bias, targets, d, dtype)
        }

        init(_ test: Case, seed: UInt64) {
            let ignoreIndex = test.options.ignoreIndex
            let targets = (0 ..< test.n).map { i -> Int32 in
                test.ignoredEvery > 0 && i % test.ignoredEvery == 1 ? ignoreIndex
                    : Int32((i * 7919 + 3) % test.v) == ignoreIndex ? Int32((i * 7919 + 4) % test.v)
                    : Int32((i * 7919 + 3) % test.v)
            }
            self.init(e: randomValues(test.n * test.d, seed: seed, in: -1 ... 1).map(test.dtype.round),
                      c: randomValues(test.v * test.d, seed: seed + 1, in: -1 ... 1).map(test.dtype.round),
                      bias: test.hasBias ? randomValues(test.v, seed: seed + 2, in: -2 ... 2).map(test.dtype.round) : nil,
                      targets: targets, d: test.d, dtype: test.dtype)
        }

        func reference(_ options: CrossEntropyOptions) -> CrossEntropyReference {
            CrossEntropyReference(e: e, c: c, bias: bias, targets: targets, d: d, options: options)
        }

        /// The classifier rows and bias entries of `range`.
        func shard(_ range: Range<Int>) -> Inputs {
            Inputs(e: e, c: Array(c[range.lowerBound * d ..< range.upperBound * d]), bias: bias.map { Array($0[range]) },
                   targets: targets, d: d, dtype: dtype)
        }

        func tensors(on engine: Engine) throws -> (e: Tensor, c: Tensor, bias: Tensor?, targets: Tensor) {
            let make = { (values: [Float], shape: [Int]) -> Tensor in
                switch dtype {
                case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
                case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
                default: return try engine.tensor(values, shape: shape)
                }
            }
            return (try make(e, [targets.count, d]), try make(c, [c.count / d, d]),
                    try bias.map { try make($0, [$0.count]) }, try engine.tensor(targets, shape: [targets.count]))
        }
    }
}
