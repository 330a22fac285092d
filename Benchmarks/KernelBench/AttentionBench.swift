import ArgumentParser
import Foundation
import FusedKernels

struct AttentionBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Time flash attention (sigmoid or softmax) against the same run's Q·Kᵀ matmul, or the materialised baseline.",
        discussion: """
            FLOPs per run: 4·B·Hq·D per (query, key) pair, over Lq·Lk pairs (halved with --causal), or with \
            --window the pairs the band keeps, counted exactly; --backward adds 2.5× the forward's (the forward \
            and the backward are timed together).
            """)

    static var suiteArguments: [[String]] {
        let lengths = { (lengths: [Int], flags: [String]) in lengths.map { ["--lq", "\($0)"] + flags } }
        return lengths([512, 1024, 2048], ["--activation", "softmax"]) + lengths([512, 1024, 2048], ["--activation", "sigmoid"])
            + lengths([512, 1024, 2048], ["--activation", "softmax", "--causal"])
            + lengths([512, 1024], ["--activation", "softmax", "--backward"])
            + lengths([512, 1024], ["--activation", "sigmoid", "--backward"])
    }

    @Option(help: "Batch B.") var b = 1
    @Option(help: "Query heads Hq.") var h = 8
    @Option(help: "Key/value heads Hkv, dividing Hq (default: Hq; fewer is grouped-query attention).") var hkv: Int?
    @Option(help: "Query rows Lq.") var lq = 2048
    @Option(help: "Key/value rows Lk (default: Lq).") var lk: Int?
    @Option(help: "Head size D.") var d = 64
    @Option(help: "softmax, or sigmoid (its default bias −ln Lk).") var activation = "softmax"
    @Flag(help: "Keep key j for query i only when j ≤ i' = i + Lk − Lq (rows aligned bottom-right).") var causal = false
    @Option(help: ArgumentHelp("Keep keys i' − l … i' + r of query i; '-' or empty: that side unbounded "
                                   + "(256,0 or ,0 or 128,-; a leading '-' needs --window=-,0).", valueName: "l,r"))
    var window: String?
    @Flag(help: "ALiBi, slopes 2^(−8(h+1)/Hq) for head h = 0 ..< Hq.") var alibi = false
    @Flag(help: "Time the forward plus the backward given its outputs and a random dO.") var backward = false
    @Option(help: "Storage of Q, K, V and dO: float32, float16 or bfloat16 (or fp32, fp16, bf16; arithmetic is fp32).")
    var dtype = "float32"
    @Option(help: ArgumentHelp("materialised: time S = Q·Kᵀ·scale, P = softmax(S), O = P·V (and the backward's "
                                   + "matmuls) on the same engine instead (softmax only)."))
    var baseline: String?
    @Option(help: "on: the max error against the CPU path's attention; off: skip it (huge shapes).") var check = "on"
    @Option(help: deviceHelp) var device: String?
    @Option(help: presetHelp) var preset = KernelPreset.auto
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 3
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        let dtype = try floatingDType(dtype)
        guard ["on", "off"].contains(check) else { throw ValidationError("--check must be on or off") }
        let activation: AttentionActivation
        switch self.activation {
        case "softmax": activation = .softmax
        case "sigmoid": activation = .sigmoid()
        default: throw ValidationError("--activation must be sigmoid or softmax (got \(self.activation))")
        }
        if let baseline, baseline != "materialised" {
            throw ValidationError("--baseline must be materialised (got \(baseline))")
        }
        if baseline != nil, activation != .softmax {
            throw ValidationError("--baseline materialised supports --activation softmax (the package has no sigmoid op)")
        }
        let (hkv, lk) = (self.hkv ?? h, self.lk ?? lq)
        guard b >= 1, h >= 1, hkv >= 1, lq >= 1, lk >= 1, d >= 1, `repeat` >= 1 else {
            throw ValidationError("--b, --h, --hkv, --lq, --lk, --d and --repeat must be ≥ 1")
        }
        guard h % hkv == 0 else { throw ValidationError("--hkv (\(hkv)) must divide --h (\(h))") }
        let problem = AttentionProblem(b: b, hq: h, hkv: hkv, lq: lq, lk: lk, d: d, activation: activation,
                                       causal: causal, window: try window.map(parseAttentionWindow), alibi: alibi,
                                       backward: backward, dtype: dtype)
        var sizes: [(name: String, extents: [Int])] = [("Q (B·Hq·Lq·D)", [b, h, lq, d]), ("K (B·Hkv·Lk·D)", [b, hkv, lk, d])]
        if baseline != nil {
            sizes.append(("the scores (B·Hq·Lq·Lk)", [b, h, lq, lk]))
            if alibi { sizes.append(("the ALiBi mask (Hq·Lq·Lk)", [h, lq, lk])) }
        }
        try checkElementCounts(sizes)
        let data = AttentionData(problem)
        // The CPU path's result, once, when some measurement is checked against it (the
        // fused op on the CPU path is that result itself).
        let checked = { (engine: Engine) in check == "on" && (baseline != nil || engine.backend != .cpu) }
        let reference = try engines.contains(where: checked) ? attentionReference(problem, data) : nil
        let options = (causal ? " causal" : "") + (window.map { " window " + $0 } ?? "") + (alibi ? " alibi" : "")
            + (hkv == h ? "" : " gqa")
        let variant = self.activation + options + (baseline == nil ? "" : " materialised")
        return try engines.map { engine in
            Progress.show("attention lq\(lq) \(variant)\(backward ? " +backward" : "") on \(engine.backend)")
            let q = try tensor(data.query, shape: problem.queryShape, dtype: dtype, on: engine)
            let k = try tensor(data.key, shape: problem.keyShape, dtype: dtype, on: engine)
            let v = try tensor(data.value, shape: problem.keyShape, dtype: dtype, on: engine)
            let dO = try backward ? tensor(data.outputGradient, shape: problem.queryShape, dtype: dtype, on: engine) : nil
            let run = baseline == nil
                ? try fused(engine, q, k, v, dO, problem, preset: preset)
                : try materialised(engine, q, k, v, dO, problem, preset: preset)
            // The same run's S = Q·Kᵀ on this engine (OpenBLAS on the CPU path), grouped
            // heads folded into the rows ([B·Hkv, G·Lq, D]·[B·Hkv, Lk, D]ᵀ), on as many
            // (batch, head) matrices and rows as keep the product within 2 GiB; the
            // materialised baseline's scores are reused.
            let (batches, rows) = problem.matmulExtents
            let q3 = try q.reshaped([b * hkv, problem.group * lq, d]).slice(axis: 0, 0 ..< batches).slice(axis: 1, 0 ..< rows)
            let k3 = try k.reshaped([b * hkv, lk, d]).slice(axis: 0, 0 ..< batches)
            let product = try run.scores?.slice(axis: 0, 0 ..< batches).slice(axis: 1, 0 ..< rows)
                ?? engine.empty(shape: [batches, rows, lk], dtype: dtype)
            let matmul = try measure(engine, repeat: `repeat`) {
                try engine.matmul(q3, k3, into: product, transposeB: true, preset: preset)
            }
            let error = try checked(engine) ? reference.map { try run.error($0) } : nil
            let gflops = problem.flops / run.time.median / 1e6
            let matmulGflops = 2 * Double(batches) * Double(rows) * Double(lk) * Double(d) / matmul.median / 1e6
            let deviceBytes = run.scratchBytes + run.extraBytes + problem.ioBytes
            var details: [String: Detail] = [
                "matmul_gflops": .number(matmulGflops), "fraction_of_matmul": .number(gflops / matmulGflops),
                "scratch_bytes": .number(Double(run.scratchBytes)), "device_bytes": .number(Double(deviceBytes)),
                "memory_ratio": .number(Double(deviceBytes) / Double(problem.ioBytes)),
                "scores_bytes": .number(Double(problem.scoresBytes)), "preset": .text(preset.rawValue),
                "hkv": .number(Double(hkv)), "lk": .number(Double(lk))]
            if !run.omitted.isEmpty { details["omitted"] = .text(run.omitted) }
            return BenchRecord(
                family: Self.family, op: backward ? "attention+backward" : "attention", variant: variant, dtype: dtype,
                shape: [b, h, lq, d], engine: engine, timings: run.time, unit: .gigaflops, work: problem.flops,
                roofline: try context.fmaRoofline(engine), maxError: error,
                errorMetric: error == nil ? (check == "off" ? "none" : "none (the CPU path is the reference)") : "normwise",
                details: details)
        }
    }

    /// The fused op: the forward (and with --backward the backward given its outputs)
    /// timed; its scratch and its results from one more run.
    private func fused(_ engine: Engine, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ dO: Tensor?,
                       _ problem: AttentionProblem, preset: KernelPreset) throws -> AttentionRun {
        let options = try problem.options(on: engine)
        let step = { () throws -> AttentionResults in
            let forward = try engine.attention(q, k, v, activation: problem.activation, options: options, preset: preset)
            guard let dO else { return AttentionResults(output: forward.output, logSumExp: forward.logSumExp) }
            let gradients = try engine.attentionBackward(q, k, v, forward: forward, gradient: dO,
                                                         activation: problem.activation, options: options, preset: preset)
            return AttentionResults(output: forward.output, logSumExp: forward.logSumExp,
                                    gradients: [gradients.query, gradients.key, gradients.value])
        }
        let time = try measure(engine, repeat: `repeat`) { _ = try step() }
        _ = engine.takeScratchHighWater()
        let results = try step()
        let scratch = engine.takeScratchHighWater()
        // The log-sum-exp (softmax) and the ALiBi slopes, beyond Q, K, V, O and the gradients.
        let extra = (results.logSumExp?.count ?? 0) * 4 + (options.alibiSlopes?.count ?? 0) * 4
        return AttentionRun(time: time, scratchBytes: scratch, extraBytes: extra, results: results, scores: nil,
                            omitted: "")
    }

    /// The materialised computation on the same engine, grouped heads folded into the
    /// rows (query head h = g·G + r of batch b is rows r·Lq ..< (r + 1)·Lq of matrix
    /// b·Hkv + g, so K and V serve their group without a copy):
    /// S = scale·Q·Kᵀ `[B·Hkv, G·Lq, Lk]`; P = softmax(S) over `[B, Hq, Lq, Lk]` (one call,
    /// or one per (batch, head) with the causal and window band as a keep mask `[Lq, Lk]`
    /// and ALiBi as an additive mask `[Hq, Lq, Lk]`); O = P·V. With --backward also dV = Pᵀ·dO, dP = dO·Vᵀ,
    /// dS = softmaxBackward(P, dP) (into S's buffer), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
    /// Extra memory: S, P (and dP), the masks, plus any scratch the ops report.
    private func materialised(_ engine: Engine, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ dO: Tensor?,
                              _ problem: AttentionProblem, preset: KernelPreset) throws -> AttentionRun {
        let (batches, rows, lk, d) = (problem.b * problem.hkv, problem.group * problem.lq, problem.lk, problem.d)
        let scoreShape = [batches, rows, lk]
        let (q3, k3, v3) = (try q.reshaped([batches, rows, d]), try k.reshaped([batches, lk, d]),
                            try v.reshaped([batches, lk, d]))
        let scores = try engine.empty(shape: scoreShape, dtype: problem.dtype)
        let probabilities = try engine.empty(shape: scoreShape, dtype: problem.dtype)
        let output = try engine.empty(shape: problem.queryShape, dtype: problem.dtype)
        let (scores4, probabilities4) = (try scores.reshaped(problem.scoreShape),
                                         try probabilities.reshaped(problem.scoreShape))
        let masks = try problem.softmaxOptions(on: engine)
        // With masks, one softmax per (batch, head): the softmax kernels take a mask's rows
        // by one stride, so a mask broadcast over heads would be copied out in full first.
        let softmaxCalls = try !problem.isBanded && !problem.alibi ? [(scores4, probabilities4, masks)]
            : (0 ..< problem.b * problem.hq).map { index in
                let (batch, head) = index.quotientAndRemainder(dividingBy: problem.hq)
                let matrix = { (x: Tensor) in try x.slice(axis: 0, batch ..< batch + 1).slice(axis: 1, head ..< head + 1) }
                var options = masks
                options.additiveMask = try masks.additiveMask?.slice(axis: 0, head ..< head + 1)
                return (try matrix(scores4), try matrix(probabilities4), options)
            }
        let scale = 1 / Float(d).squareRoot()
        let output3 = try output.reshaped([batches, rows, d])
        // With --backward: dO, dP, and dQ, dK, dV as [B·Hkv, …] matrices.
        let dO3 = try dO?.reshaped([batches, rows, d])
        let dP = try dO.map { _ in try engine.empty(shape: scoreShape, dtype: problem.dtype) }
        let dP4 = try dP?.reshaped(problem.scoreShape)
        let gradients = try dO == nil ? [] : [problem.queryShape, problem.keyShape, problem.keyShape].map {
            try engine.empty(shape: $0, dtype: problem.dtype)
        }
        let gradients3 = try zip(gradients, [rows, lk, lk]).map { try $0.reshaped([batches, $1, d]) }
        let step = {
            try engine.matmul(q3, k3, into: scores, transposeB: true, alpha: scale, preset: preset)
            for (x, y, options) in softmaxCalls { try engine.softmax(x, into: y, options: options) }
            try engine.matmul(probabilities, v3, into: output3, preset: preset)
            guard let dO3, let dP, let dP4 else { return }
            try engine.matmul(probabilities, dO3, into: gradients3[2], transposeA: true, preset: preset)
            try engine.matmul(dO3, v3, into: dP, transposeB: true, preset: preset)
            try engine.softmaxBackward(output: probabilities4, gradient: dP4, into: scores4)
            try engine.matmul(scores, k3, into: gradients3[0], alpha: scale, preset: preset)
            try engine.matmul(scores, q3, into: gradients3[1], transposeA: true, alpha: scale, preset: preset)
        }
        let time = try measure(engine, repeat: `repeat`) { try step() }
        _ = engine.takeScratchHighWater()
        try step()
        let scratch = engine.takeScratchHighWater()
        let scoreBytes = (dO == nil ? 2 : 3) * problem.scoresBytes
        let maskBytes = [masks.keepMask, masks.additiveMask].reduce(0) { $0 + ($1.map { $0.count * $0.dtype.byteCount } ?? 0) }
        let results = AttentionResults(output: output, logSumExp: nil, gradients: gradients)
        // After a backward, `scores` holds dS; the matmul-rate reference overwrites it.
        return AttentionRun(time: time, scratchBytes: scratch, extraBytes: scoreBytes + maskBytes, results: results,
                            scores: scores, omitted: "no log-sum-exp output (the backward uses P)")
    }
}

/// `--window l,r`: each side a count ≥ 0, or `-` or empty for unbounded.
func parseAttentionWindow(_ text: String) throws -> AttentionWindow {
    let sides = text.split(separator: ",", omittingEmptySubsequences: false)
        .map { $0.trimmingCharacters(in: .whitespaces) }
    guard sides.count == 2 else { throw ValidationError("--window must be l,r (e.g. 256,0 or ,0), got \(text)") }
    let bounds = try sides.map { side -> Int? in
        if side.isEmpty || side == "-" { return nil }
        guard let count = Int(side), count >= 0 else {
            throw ValidationError("--window sides must be counts ≥ 0, '-' or empty, got \(text)")
        }
        return count
    }
    return AttentionWindow(left: bounds[0], right: bounds[1])
}

/// One run's shape and options, and what follows from them.
struct AttentionProblem {
    let b: Int
    let hq: Int
    let hkv: Int
    let lq: Int
    let lk: Int
    let d: Int
    let activation: AttentionActivation
    let causal: Bool
    let window: AttentionWindow?
    let alibi: Bool
    let backward: Bool
    let dtype: DType

    /// Query heads per key/value head.
    var group: Int { hq / hkv }
    var queryShape: [Int] { [b, hq, lq, d] }
    var keyShape: [Int] { [b, hkv, lk, d] }
    var scoreShape: [Int] { [b, hq, lq, lk] }

    /// Keys kept for row i lie in [i' − left, i' + right], i' = i + Lk − Lq (`AttentionCall`'s band).
    var left: Int { min(window?.left ?? lq + lk, lq + lk) }
    var right: Int { causal ? 0 : min(window?.right ?? lq + lk, lq + lk) }
    var isBanded: Bool { causal || window != nil }

    func keeps(row i: Int, key j: Int) -> Bool {
        let aligned = i + lk - lq
        return j >= aligned - left && j <= aligned + right
    }

    /// (query, key) pairs per head the FLOP count uses: Lq·Lk, halved when causal (the
    /// FlashAttention convention); with a window, the pairs the band keeps, exactly.
    var scorePairs: Double {
        guard window != nil else { return Double(lq) * Double(lk) / (causal ? 2 : 1) }
        return (0 ..< lq).reduce(0.0) { pairs, i in
            let aligned = i + lk - lq
            return pairs + Double(max(0, min(lk, aligned + right + 1) - max(0, aligned - left)))
        }
    }

    /// 4·B·Hq·D per pair (Q·Kᵀ and P·V), plus 2.5× that for the backward (dV, dP, dQ, dK
    /// and the recomputed S).
    var flops: Double { 4 * Double(b) * Double(hq) * Double(d) * scorePairs * (backward ? 3.5 : 1) }

    /// Q, K, V, O, and with --backward dO, dQ, dK and dV, in the storage dtype.
    var ioBytes: Int { (2 * b * hq * lq * d + 2 * b * hkv * lk * d) * (backward ? 2 : 1) * dtype.byteCount }

    /// One `[B, Hq, Lq, Lk]` score matrix in the storage dtype.
    var scoresBytes: Int { b * hq * lq * lk * dtype.byteCount }

    /// The matmul-rate reference's extent: matrices of [G·Lq, Lk], and rows of the last,
    /// within 2 GiB of output.
    var matmulExtents: (batches: Int, rows: Int) {
        let budget = min(Tensor.maxElements, (2 << 30) / dtype.byteCount)
        let perMatrix = group * lq * lk
        if perMatrix <= budget { return (min(b * hkv, budget / perMatrix), group * lq) }
        return (1, max(1, budget / lk))
    }

    /// l,r as `--window` takes it, `-` for an unbounded side; empty without a window.
    var windowLabel: String {
        guard let window else { return "" }
        return [window.left, window.right].map { $0.map(String.init) ?? "-" }.joined(separator: ",")
    }

    /// ALiBi's standard geometric slopes, 2^(−8(h+1)/Hq).
    var alibiSlopes: [Float] { (0 ..< hq).map { Float(pow(2, -8 * Double($0 + 1) / Double(hq))) } }

    /// The fused op's options: default scale 1/√D, the band, and the slopes on `engine`.
    func options(on engine: Engine) throws -> AttentionOptions {
        AttentionOptions(causal: causal, window: window,
                         alibiSlopes: alibi ? try engine.tensor(alibiSlopes, shape: [hq]) : nil)
    }

    /// The materialised softmax's masks: the band as a keep mask `[Lq, Lk]`, ALiBi as an
    /// additive mask `[Hq, Lq, Lk]` (−slope_h·|i' − j|).
    func softmaxOptions(on engine: Engine) throws -> SoftmaxOptions {
        var options = SoftmaxOptions()
        if isBanded {
            let keep = (0 ..< lq * lk).map { keeps(row: $0 / lk, key: $0 % lk) }
            options.keepMask = try engine.tensor(keep, shape: [lq, lk])
        }
        if alibi {
            let slopes = alibiSlopes
            let bias = (0 ..< hq * lq * lk).map { index -> Float in
                let (h, i, j) = (index / (lq * lk), index / lk % lq, index % lk)
                return -slopes[h] * Float(abs(i + lk - lq - j))
            }
            options.additiveMask = try engine.tensor(bias, shape: [hq, lq, lk])
        }
        return options
    }
}

/// Host copies of one run's inputs, rounded to the storage dtype: `benchmarkInput`'s
/// uniform values scaled to variance 1, so each scaled score Q_i·K_j/√D has variance ≈ 1.
struct AttentionData {
    let query: [Float]
    let key: [Float]
    let value: [Float]
    /// dO, for --backward (empty otherwise).
    let outputGradient: [Float]

    init(_ problem: AttentionProblem) {
        let unit = Float(3).squareRoot() / 8  // uniform [−8, 8) has variance 64/3
        let (queries, keys) = (problem.queryShape.reduce(1, *), problem.keyShape.reduce(1, *))
        let values = { (count: Int, seed: UInt64) in
            benchmarkInput(count: count, seed: seed).map { problem.dtype.round($0 * unit) }
        }
        query = values(queries, 0x9E37_79B9_7F4A_7C15)
        key = values(keys, 7)
        value = values(keys, 11)
        outputGradient = problem.backward ? values(queries, 13) : []
    }
}

/// O (and the log-sum-exp) from the forward, and with --backward dQ, dK and dV.
struct AttentionResults {
    let output: Tensor
    let logSumExp: Tensor?
    /// dQ, dK, dV; empty without --backward.
    var gradients: [Tensor] = []
}

/// One engine's measurement of the fused op or of the materialised baseline.
struct AttentionRun {
    let time: Timings
    /// `takeScratchHighWater` after one more run of the timed step.
    let scratchBytes: Int
    /// Device memory beyond Q, K, V, O, dO, the gradients and the scratch: the log-sum-exp
    /// and slopes (fused), or the score matrices and masks (materialised).
    let extraBytes: Int
    let results: AttentionResults
    /// The materialised baseline's `[B·Hkv, G·Lq, Lk]` scores, reused by the matmul-rate reference.
    let scores: Tensor?
    /// What the measurement leaves out (empty for the fused op).
    let omitted: String

    /// The worst normwise error of O, the log-sum-exp and the gradients against `reference`.
    func error(_ reference: AttentionReference) throws -> Double {
        var pairs = [(results.output, reference.output)] + zip(results.gradients, reference.gradients)
        if let lse = results.logSumExp, let expected = reference.logSumExp { pairs.append((lse, expected)) }
        return try pairs.map { actual, expected in
            // Equal entries (a fully masked row's −∞ log-sum-exp) are exact.
            let kept = zip(try actual.array(of: Float.self), expected).filter { $0.0 != $0.1 || $0.1.isFinite }
            return normwiseError(kept.map(\.0), kept.map(\.1))
        }.max() ?? 0
    }
}

/// The CPU path's results for the same inputs, computed once.
struct AttentionReference {
    let output: [Float]
    let logSumExp: [Float]?
    /// dQ, dK, dV; empty without --backward.
    let gradients: [[Float]]
}

func attentionReference(_ problem: AttentionProblem, _ data: AttentionData) throws -> AttentionReference {
    let cpu = try Engine(device: "cpu")
    let q = try tensor(data.query, shape: problem.queryShape, dtype: problem.dtype, on: cpu)
    let k = try tensor(data.key, shape: problem.keyShape, dtype: problem.dtype, on: cpu)
    let v = try tensor(data.value, shape: problem.keyShape, dtype: problem.dtype, on: cpu)
    let options = try problem.options(on: cpu)
    let forward = try cpu.attention(q, k, v, activation: problem.activation, options: options)
    var gradients: [[Float]] = []
    if problem.backward {
        let dO = try tensor(data.outputGradient, shape: problem.queryShape, dtype: problem.dtype, on: cpu)
        let result = try cpu.attentionBackward(q, k, v, forward: forward, gradient: dO, activation: problem.activation,
                                               options: options)
        gradients = try [result.query, result.key, result.value].map { try $0.array(of: Float.self) }
    }
    return AttentionReference(output: try forward.output.array(of: Float.self),
                              logSumExp: try forward.logSumExp?.array(of: Float.self), gradients: gradients)
}
