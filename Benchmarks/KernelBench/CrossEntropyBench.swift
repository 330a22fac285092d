import ArgumentParser
import Foundation
import FusedKernels

struct CrossEntropyBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "cross-entropy",
        abstract: "Time the linear cross-entropy (cut cross-entropy) against the same run's E·Cᵀ matmul, or the materialised baseline.")

    static var suiteArguments: [[String]] {
        let shapes = { (vocabularies: [Int]) in vocabularies.map { ["--n", "1024", "--d", "1024", "--v", "\($0)"] } }
        return shapes([4096, 16384, 65536]) + shapes([4096, 16384, 65536]).map { $0 + ["--baseline", "materialised"] }
            + shapes([4096, 16384]).map { $0 + ["--backward"] }
    }

    @Option(help: "Tokens: rows of E [N, D].") var n = 1024
    @Option(help: "Hidden size: columns of E and C.") var d = 1024
    @Option(help: "Vocabulary: rows of C [V, D].") var v = 65536
    @Flag(help: "Time the forward (returning the log-sum-exp) plus the backward given it.") var backward = false
    @Option(help: "The backward's gradient filter: on (2⁻¹², the default) or off (exact).") var filter = "on"
    @Option(help: "Storage of E and C: float32, float16 or bfloat16 (arithmetic is fp32).") var dtype = "float32"
    @Flag(help: "Trained-like logits: each row's mass on the first 256 vocabulary entries (see peakedCrossEntropyInputs).")
    var peaked = false
    @Option(help: "materialised: time logits = E·Cᵀ, log-sum-exp (and softmax + dE, dC matmuls) on the same engine instead.")
    var baseline: String?
    @Option(help: "Rows of E in the matmul-rate reference (default: N, capped so its logits take at most 2 GiB).")
    var matmulRows: Int?
    @Option(help: deviceHelp) var device: String?
    @Option(help: presetHelp) var preset = KernelPreset.auto
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 3
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        guard let dtype = DType(rawValue: dtype), dtype.isFloatingPoint else {
            throw ValidationError("--dtype must be float32, float16 or bfloat16")
        }
        guard ["on", "off"].contains(filter) else { throw ValidationError("--filter must be on or off") }
        if let baseline, baseline != "materialised" {
            throw ValidationError("--baseline must be materialised (got \(baseline))")
        }
        guard n >= 1, d >= 1, v >= 1, `repeat` >= 1, (matmulRows ?? 1) >= 1 else {
            throw ValidationError("--n, --d, --v, --repeat and --matmul-rows must be ≥ 1")
        }
        try checkElementCounts([("N·V (the logits)", [n, v]), ("N·D (E)", [n, d]), ("V·D (C)", [v, d])])
        let matmulRows = min(n, matmulRows ?? max(1, (2 << 30) / (v * dtype.byteCount)))
        let inputs = peaked ? peakedCrossEntropyInputs(n: n, d: d, v: v) : randomCrossEntropyInputs(n: n, d: d, v: v)
        let data = CrossEntropyData(embeddings: inputs.embeddings.map(dtype.round),
                                    classifier: inputs.classifier.map(dtype.round), targets: inputs.targets)
        var options = CrossEntropyOptions()
        if filter == "off" { options.gradientFilter = nil }
        options.returnLogSumExp = backward
        let reference = try crossEntropyReference(data, n: n, d: d, v: v, dtype: dtype, options: options)
        let flops = (backward ? 6 : 2) * Double(n) * Double(d) * Double(v)
        let variant = (baseline == nil ? "fused" + (backward ? " filter \(filter)" : "") : "materialised")
            + (peaked ? " peaked" : "")
        return try engines.map { engine in
            Progress.show("cross-entropy n\(n) d\(d) v\(v) \(variant) on \(engine.backend)")
            let e = try tensor(data.embeddings, shape: [n, d], dtype: dtype, on: engine)
            let c = try tensor(data.classifier, shape: [v, d], dtype: dtype, on: engine)
            let targets = try engine.tensor(data.targets, shape: [n])
            let run = baseline == nil
                ? try fused(engine, e, c, targets, data, reference: reference, options: options, preset: preset)
                : try materialised(engine, e, c, data, reference: reference, dtype: dtype, preset: preset)
            // The same run's E·Cᵀ on this engine (OpenBLAS on the CPU path), on the first
            // `matmulRows` rows of E; the materialised baseline's logits buffer is reused.
            let product = try run.logits?.slice(axis: 0, 0 ..< matmulRows)
                ?? engine.empty(shape: [matmulRows, v], dtype: dtype)
            let rows = try e.slice(axis: 0, 0 ..< matmulRows)
            let matmul = try measure(engine, repeat: `repeat`) {
                try engine.matmul(rows, c, into: product, transposeB: true, preset: preset)
            }
            let gflops = flops / run.time.median / 1e6
            let matmulGflops = 2 * Double(matmulRows) * Double(d) * Double(v) / matmul.median / 1e6
            var details: [String: Detail] = [
                "matmul_gflops": .number(matmulGflops), "matmul_rows": .number(Double(matmulRows)),
                "fraction_of_matmul": .number(gflops / matmulGflops), "extra_bytes": .number(Double(run.extraBytes)),
                "logits_bytes": .number(Double(n * v * 4)), "preset": .text(preset.rawValue)]
            if !run.omitted.isEmpty { details["omitted"] = .text(run.omitted) }
            return BenchRecord(
                family: Self.family, op: backward ? "cross-entropy+backward" : "cross-entropy", variant: variant,
                dtype: dtype, shape: [n, d, v], engine: engine, timings: run.time, unit: .gigaflops, work: flops,
                roofline: try context.fmaRoofline(engine), maxError: run.maxError, errorMetric: "normwise",
                details: details)
        }
    }

    /// The fused op: timed with `options` (mean loss); its scratch from one more run (the
    /// forward and, with --backward, the backward), whose gradients are checked; the
    /// per-token losses from one forward with reduction `none`.
    private func fused(_ engine: Engine, _ e: Tensor, _ c: Tensor, _ targets: Tensor, _ data: CrossEntropyData,
                       reference: CrossEntropyReference, options: CrossEntropyOptions,
                       preset: KernelPreset) throws -> CrossEntropyRun {
        let step = { () throws -> LinearCrossEntropyGradients? in
            let output = try engine.linearCrossEntropy(e, c, targets: targets, options: options, preset: preset)
            guard backward else { return nil }
            return try engine.linearCrossEntropyBackward(e, c, targets: targets, logSumExp: output.logSumExp,
                                                         options: options, preset: preset)
        }
        let time = try measure(engine, repeat: `repeat`) { _ = try step() }
        _ = engine.takeScratchHighWater()
        let gradients = try step()
        let extraBytes = engine.takeScratchHighWater()
        var perToken = options
        perToken.reduction = .none
        perToken.returnLogSumExp = false
        let losses = try engine.linearCrossEntropy(e, c, targets: targets, options: perToken, preset: preset).loss
        var error = normwiseError(try losses.array(of: Float.self), reference.losses)
        if let gradients, let dE = reference.embeddingGradient, let dC = reference.classifierGradient {
            error = max(error, normwiseError(try gradients.embeddings.array(of: Float.self), dE),
                        normwiseError(try gradients.classifier.array(of: Float.self), dC))
        }
        return CrossEntropyRun(time: time, extraBytes: extraBytes, maxError: error, omitted: "", logits: nil)
    }

    /// The materialised computation on the same engine: logits = E·Cᵀ `[N, V]`, their
    /// log-sum-exp; with --backward also P = softmax(logits), dE = P·C/N and dC = Pᵀ·E/N
    /// (the mean loss's gradients, less the one-hot term). There is no gather or
    /// elementwise op, so the target logits and the one-hot correction (O(N·D) each) are
    /// applied on the host, untimed, before the result is checked. Extra memory: the
    /// logits, the log-sum-exp and P, plus any scratch the ops report.
    private func materialised(_ engine: Engine, _ e: Tensor, _ c: Tensor, _ data: CrossEntropyData,
                              reference: CrossEntropyReference, dtype: DType,
                              preset: KernelPreset) throws -> CrossEntropyRun {
        let logits = try engine.empty(shape: [n, v], dtype: dtype)
        let lse = try engine.empty(shape: [n, 1], dtype: dtype)
        let probabilities = try backward ? engine.empty(shape: [n, v], dtype: dtype) : nil
        let dE = try backward ? engine.empty(shape: [n, d], dtype: dtype) : nil
        let dC = try backward ? engine.empty(shape: [v, d], dtype: dtype) : nil
        let scale = 1 / Float(n)
        let step = {
            try engine.matmul(e, c, into: logits, transposeB: true, preset: preset)
            try engine.softmax(logits, into: lse, kind: .logSumExp)
            guard let probabilities, let dE, let dC else { return }
            try engine.softmax(logits, into: probabilities, kind: .softmax)
            try engine.matmul(probabilities, c, into: dE, alpha: scale, preset: preset)
            try engine.matmul(probabilities, e, into: dC, transposeA: true, alpha: scale, preset: preset)
        }
        let time = try measure(engine, repeat: `repeat`) { try step() }
        _ = engine.takeScratchHighWater()
        try step()
        let extraBytes = engine.takeScratchHighWater() + ((backward ? 2 : 1) * n * v + n) * dtype.byteCount
        // loss_i = LSE_i − z_i[t_i], the target logit formed on the host in Double.
        let logSumExp = try lse.array(of: Float.self)
        let losses = (0 ..< n).map { i in
            Float(Double(logSumExp[i]) - data.dot(embedding: i, classifier: Int(data.targets[i]), d: d))
        }
        var error = normwiseError(losses, reference.losses)
        if let dE, let dC, let referenceDE = reference.embeddingGradient, let referenceDC = reference.classifierGradient {
            // dZ = (P − onehot)/N: dE_i −= C[t_i]/N, dC[t_i] −= E_i/N.
            var gradientE = try dE.array(of: Float.self)
            var gradientC = try dC.array(of: Float.self)
            for i in 0 ..< n {
                let t = Int(data.targets[i])
                for k in 0 ..< d {
                    gradientE[i * d + k] -= data.classifier[t * d + k] * scale
                    gradientC[t * d + k] -= data.embeddings[i * d + k] * scale
                }
            }
            error = max(error, normwiseError(gradientE, referenceDE), normwiseError(gradientC, referenceDC))
        }
        let omitted = backward
            ? "target-logit gather and one-hot term of dZ = P - onehot (O(N*D), no device op) applied on the host, untimed"
            : "target-logit gather (O(N*D), no gather op) done on the host, untimed"
        return CrossEntropyRun(time: time, extraBytes: extraBytes, maxError: error, omitted: omitted, logits: logits)
    }
}

/// Host copies of one run's inputs, already rounded to the storage dtype.
struct CrossEntropyData {
    /// `[N, D]` row-major.
    let embeddings: [Float]
    /// `[V, D]` row-major.
    let classifier: [Float]
    /// `[N]`, in [0, V).
    let targets: [Int32]

    /// E_i · C_j, accumulated in Double.
    func dot(embedding i: Int, classifier j: Int, d: Int) -> Double {
        var sum = 0.0
        for k in 0 ..< d { sum += Double(embeddings[i * d + k]) * Double(classifier[j * d + k]) }
        return sum
    }
}

/// One engine's measurement of the fused op or of the materialised baseline.
struct CrossEntropyRun {
    let time: Timings
    let extraBytes: Int
    let maxError: Double
    /// What the timing leaves out (empty for the fused op).
    let omitted: String
    /// The materialised baseline's `[N, V]` logits, reused by the matmul-rate reference.
    let logits: Tensor?
}

/// The CPU path's results, computed once: per-token losses (reduction `none`), and with
/// --backward dE and dC of the mean loss, exact (no gradient filter), so that `max_error`
/// includes what the filter drops.
struct CrossEntropyReference {
    let losses: [Float]
    let embeddingGradient: [Float]?
    let classifierGradient: [Float]?
}

func crossEntropyReference(_ data: CrossEntropyData, n: Int, d: Int, v: Int, dtype: DType,
                           options: CrossEntropyOptions) throws -> CrossEntropyReference {
    let cpu = try Engine(device: "cpu")
    let e = try tensor(data.embeddings, shape: [n, d], dtype: dtype, on: cpu)
    let c = try tensor(data.classifier, shape: [v, d], dtype: dtype, on: cpu)
    let targets = try cpu.tensor(data.targets, shape: [n])
    var exact = options
    exact.gradientFilter = nil
    var perToken = exact
    perToken.reduction = .none
    perToken.returnLogSumExp = true
    let forward = try cpu.linearCrossEntropy(e, c, targets: targets, options: perToken)
    let losses = try forward.loss.array(of: Float.self)
    guard options.returnLogSumExp else {
        return CrossEntropyReference(losses: losses, embeddingGradient: nil, classifierGradient: nil)
    }
    // The log-sum-exp does not depend on the reduction.
    let gradients = try cpu.linearCrossEntropyBackward(e, c, targets: targets, logSumExp: forward.logSumExp, options: exact)
    return CrossEntropyReference(losses: losses, embeddingGradient: try gradients.embeddings.array(of: Float.self),
                                 classifierGradient: try gradients.classifier.array(of: Float.self))
}

/// The default inputs: `benchmarkInput`'s uniform values in [−8, 8) scaled so that E's
/// entries have variance 1 and C's 1/D, so each logit E_i·C_j has variance ≈ 1 (O(1)
/// logits, a nearly flat softmax over V entries); targets uniform in [0, V) (seeded).
func randomCrossEntropyInputs(n: Int, d: Int, v: Int) -> (embeddings: [Float], classifier: [Float], targets: [Int32]) {
    let unit = Float(3).squareRoot() / 8  // uniform [−8, 8) has variance 64/3
    let embeddings = benchmarkInput(count: n * d).map { $0 * unit }
    let classifier = benchmarkInput(count: v * d, seed: 7).map { $0 * unit / Float(d).squareRoot() }
    var random = SeededRandom(seed: 11)
    return (embeddings, classifier, (0 ..< n).map { _ in Int32(random.next() % UInt64(v)) })
}

/// Trained-like logits (`--peaked`): a classifier whose rows put nearly all of each
/// token's probability on a few hundred vocabulary entries, as a trained language model's
/// head does, so that the backward's gradient filter has blocks to skip. Exactly:
///
/// - u: a unit vector in R^D, normalised standard normals (seeded).
/// - H = min(V, 256) "frequent" tokens, the vocabulary entries 0 ..< H (BPE vocabularies
///   give their frequent tokens low ids).
/// - E_i = α·u + ε_i with ε_i ~ N(0, I_D), and C_j = β·u·[j < H] + η_j with
///   η_j ~ N(0, I_D / D); every ε_i and η_j has its u component removed (projected onto
///   u's orthogonal complement), and α = β = √12.
/// - So z_ij = E_i·C_j = 12·[j < H] + ε_i·η_j exactly (before rounding to the storage
///   dtype), with ε_i·η_j ≈ N(0, (D − 1)/D): frequent tokens sit 12 above the rest, and
///   logits vary by O(1) within a row (by nothing for D = 1).
/// - Targets uniform among the frequent tokens, [0, H) (seeded).
///
/// A rare entry's probability is about e^g / (H·e^12.5) ≈ 1.5·10⁻⁸·e^g (g its O(1)
/// noise), below 2⁻¹² unless g > 9.7 (ten standard deviations), and the rare tokens
/// together hold about (V − H)·2.3·10⁻⁸ of each row's mass (2 % at V = 10⁶): for
/// V ≤ ~10⁶ every row's mass is nearly all on the H frequent tokens, and every other
/// softmax entry is below the default gradient filter 2⁻¹². Normals come from a seeded
/// SplitMix64 and Box–Muller: the same data on every machine.
func peakedCrossEntropyInputs(n: Int, d: Int, v: Int) -> (embeddings: [Float], classifier: [Float], targets: [Int32]) {
    let frequent = min(v, 256)
    let (alpha, beta) = (Float(12).squareRoot(), Float(12).squareRoot())
    var random = SeededRandom(seed: 0x5EED_CE)
    var u = (0 ..< d).map { _ in random.normal() }
    let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
    u = norm > 0 ? u.map { $0 / norm } : (0 ..< d).map { $0 == 0 ? 1 : 0 }
    /// `scale`·normals with the u component removed, plus `shift`·u.
    func row(scale: Float, shift: Float) -> [Float] {
        var x = (0 ..< d).map { _ in random.normal() * scale }
        let along = zip(x, u).reduce(0) { $0 + $1.0 * $1.1 }
        for k in 0 ..< d { x[k] += (shift - along) * u[k] }
        return x
    }
    let embeddings = (0 ..< n).flatMap { _ in row(scale: 1, shift: alpha) }
    let classifier = (0 ..< v).flatMap { j in row(scale: 1 / Float(d).squareRoot(), shift: j < frequent ? beta : 0) }
    let targets = (0 ..< n).map { _ in Int32(random.next() % UInt64(frequent)) }
    return (embeddings, classifier, targets)
}

/// SplitMix64 (Steele et al.), and standard normals from it by Box–Muller.
struct SeededRandom {
    private var state: UInt64
    private var spare: Float?

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func normal() -> Float {
        if let spare {
            self.spare = nil
            return spare
        }
        let u1 = (Double(next() >> 11) + 1) / 0x1p53  // (0, 1]
        let u2 = Double(next() >> 11) / 0x1p53
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        spare = Float(radius * Foundation.sin(2 * Double.pi * u2))
        return Float(radius * Foundation.cos(2 * Double.pi * u2))
    }
}
