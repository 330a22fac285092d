import Foundation

/// The CPU forward algorithms of softmax and log-softmax, one per `SoftmaxVariant`,
/// with the semantics of `SoftmaxRowsCPU.forward` (and of Kernels/softmax.cl): masks,
/// fully masked rows (0 / −inf), NaN rows, +inf (a NaN row). They read x again in each
/// pass instead of keeping z in the output. A row goes 16 columns at a time; the last,
/// partial vector is padded with −inf, which every algorithm treats as a masked column.
/// Sums are per-lane Kahan sums (of pairwise sums of 4 vectors), lanes merged in Double.
enum SoftmaxVariantsCPU {
    typealias Logits = SoftmaxRowsCPU.Logits

    /// `kind` is softmax or log-softmax; `y` may alias `x` (each pass reads a column
    /// before it writes it).
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, shape: Shape,
                        kind: SoftmaxKind, scale: Float, masks: SoftmaxRowsCPU.Masks, variant: SoftmaxVariant) {
        precondition(kind == .softmax || kind == .logSoftmax, "log-sum-exp runs SoftmaxRowsCPU")
        let cols = shape.cols
        let isLog = kind == .logSoftmax
        let logits = { (row: Int) in Logits(x, row: row, cols: cols, scale: scale, masks: masks) }
        let eachRow = { (body: (Logits, UnsafeMutablePointer<Float>) -> Void) in
            parallelRows(shape.rows, cols: cols) { rows in
                for row in rows { body(logits(row), y + row * cols) }
            }
        }
        switch variant == .auto ? autoVariant(shape) : variant {
        case .auto, .block:
            // SoftmaxRowsCPU is a block algorithm: z built in the output row, e^(z−m) in place.
            SoftmaxRowsCPU.forward(x, y, shape: shape, kind: kind, scale: scale, masks: masks)
        case .threePass:
            eachRow { row, y in threePass(row, y, cols: cols, isLog: isLog) }
        case .online:
            eachRow { row, y in
                var lanes = OnlineLanes()
                accumulate(row, 0 ..< cols, into: &lanes)
                let stats = lanes.merged
                mapRow(row, y, 0 ..< cols,
                       Normalised(stats, isLog: isLog, rest: isLog ? peakedRest(row, 0 ..< cols, stats) : nil))
            }
        case .twoPass:
            eachRow { row, y in twoPass(row, y, cols: cols, isLog: isLog) }
        case .split:
            splitOnline(shape, isLog: isLog, logits: logits, y)
        }
    }

    /// What `auto` runs on the CPU path. Measured with kernel-bench on 2 cores (ms, best of
    /// 3 rounds; Benchmarks/NOTES.md, "CPU path: forward variants"): this path is bound by
    /// exp (SSE2 code), so block, with one exp per element, beats the two-exp variants on
    /// every shape: 4096×4096 block 15.5, threePass 23.8, online 24.8; 64×1048576 block
    /// 67.7, online 88.5; 256×1000 block 0.254, threePass 0.434. With fewer rows than
    /// cores, split keeps every core busy: 1×1048576 split 1.61, block (one thread) 1.66,
    /// online 2.66. Split only where the row is long enough to be split.
    static func autoVariant(_ shape: Shape) -> SoftmaxVariant {
        let fewRows = shape.rows < ProcessInfo.processInfo.activeProcessorCount
        return fewRows && shardCount(shape) > 1 ? .split : .block
    }

    // MARK: Three-pass: max; Σ e^(z−m); output

    private static func threePass(_ row: Logits, _ y: UnsafeMutablePointer<Float>, cols: Int, isLog: Bool) {
        var top = MaxLanes()
        accumulate(row, 0 ..< cols, into: &top)
        let m = top.m.max()
        var sum = ExpSumLanes(ms: Float16x(repeating: m == -.infinity ? 0 : m))
        accumulate(row, 0 ..< cols, into: &sum)
        let stats = (max: m, sum: sum.d.total)
        mapRow(row, y, 0 ..< cols,
               Normalised(stats, isLog: isLog, rest: isLog ? peakedRest(row, 0 ..< cols, stats) : nil))
    }

    // MARK: Log-softmax of a peaked row: R without the max's unit term

    /// R = Σ_{z≠m} e^(z−m) + (count of z = m) − 1 of a row whose (m, d) says it is peaked
    /// (d < `SoftmaxRowsCPU.peakedSum`, m finite), summed again with the max's unit term
    /// left out: log d = log1p(R) then keeps the max's log-softmax −log1p(R) ≈ −R accurate,
    /// which d's Float lane sums (the unit in them) do not. nil for other rows.
    private static func peakedRest(_ row: Logits, _ columns: Range<Int>, _ stats: (max: Float, sum: Double))
        -> Double? {
        guard isPeaked(stats) else { return nil }
        return restSum(row, columns, max: stats.max) - 1
    }

    private static func isPeaked(_ stats: (max: Float, sum: Double)) -> Bool {
        stats.sum < SoftmaxRowsCPU.peakedSum && stats.max.isFinite
    }

    /// Σ_{z≠m} e^(z−m) + (count of z = m) over `columns`.
    private static func restSum(_ row: Logits, _ columns: Range<Int>, max m: Float) -> Double {
        var lanes = RestLanes(m: Float16x(repeating: m))
        accumulate(row, columns, into: &lanes)
        return lanes.d.total + lanes.tops.sumInDouble
    }

    private struct RestLanes: VectorAccumulator {
        let m: Float16x
        var d = KahanLanes()
        var tops = Float16x(repeating: 0)

        @inline(__always)
        mutating func add(_ z0: Float16x, _ z1: Float16x, _ z2: Float16x, _ z3: Float16x) {
            add(z0); add(z1); add(z2); add(z3)
        }

        @inline(__always)
        mutating func add(_ z: Float16x) {
            let hit = z .== m
            d.add(vexp(z - m).replacing(with: 0, where: hit))
            tops += Float16x(repeating: 0).replacing(with: 1, where: hit)
        }
    }

    private struct MaxLanes: VectorAccumulator {
        var m = Float16x(repeating: -.infinity)

        @inline(__always)
        mutating func add(_ z0: Float16x, _ z1: Float16x, _ z2: Float16x, _ z3: Float16x) {
            m = laneMax(m, laneMax(laneMax(z0, z1), laneMax(z2, z3)))
        }

        @inline(__always)
        mutating func add(_ z: Float16x) { m = laneMax(m, z) }
    }

    /// Σ e^(z − ms) per lane.
    private struct ExpSumLanes: VectorAccumulator {
        let ms: Float16x
        var d = KahanLanes()

        @inline(__always)
        mutating func add(_ z0: Float16x, _ z1: Float16x, _ z2: Float16x, _ z3: Float16x) {
            d.add((vexp(z0 - ms) + vexp(z1 - ms)) + (vexp(z2 - ms) + vexp(z3 - ms)))
        }

        @inline(__always)
        mutating func add(_ z: Float16x) { d.add(vexp(z - ms)) }
    }

    // MARK: Online normalizer (Milakov & Gimelshein): (m, d) in one read; output

    /// Per-lane (m, d): d = Σ e^(z − m) of the lane's columns so far.
    private struct OnlineLanes: VectorAccumulator {
        var m = Float16x(repeating: -.infinity)
        /// m with −inf as 0, so that e^(z − ms) is 0, not NaN, for z = −inf.
        var ms = Float16x(repeating: 0)
        var d = KahanLanes()

        /// Raises the lanes' maxima to `cm` where it is larger, rescaling d: a branch
        /// taken a few times per row on typical data, hence the max of a chunk first.
        @inline(__always)
        mutating func raise(_ cm: Float16x) {
            let grown = cm .> m
            if any(grown) { rescale(to: cm, where: grown) }
        }

        /// Out of line: inlined, this cold path (an exp) cost the hot loop 1.2× (spills).
        @inline(never)
        mutating func rescale(to cm: Float16x, where grown: SIMDMask<SIMD16<Int32>>) {
            let old = m
            m.replace(with: cm, where: grown)
            ms = m.replacing(with: 0, where: m .== -.infinity)
            // From m = −inf the factor is 0 (d is 0 or NaN there); e^(0 − m) would be inf
            // for a first m ≪ 0, and inf · 0 = NaN.
            d.scale(by: vexp(old - ms))
        }

        @inline(__always)
        mutating func add(_ z0: Float16x, _ z1: Float16x, _ z2: Float16x, _ z3: Float16x) {
            raise(laneMax(laneMax(z0, z1), laneMax(z2, z3)))
            d.add((vexp(z0 - ms) + vexp(z1 - ms)) + (vexp(z2 - ms) + vexp(z3 - ms)))
        }

        @inline(__always)
        mutating func add(_ z: Float16x) {
            raise(z)
            d.add(vexp(z - ms))
        }

        /// The lanes merged: (max z, Σ d_l·e^(m_l − max)); m never holds NaN. (−inf, 0)
        /// when all are masked, a NaN sum when a z is NaN or +inf.
        var merged: (max: Float, sum: Double) {
            let top = m.max()
            let scaled = d.value * vexp(m - Float16x(repeating: top == -.infinity ? 0 : top))
            return (top, scaled.sumInDouble)
        }
    }

    /// y = e^(z − m)/d or (z − m) − log d; d = 0 (a fully masked row) gives 0 / −inf,
    /// a NaN d a NaN row.
    private struct Normalised: VectorMap {
        let ms: Float16x
        /// 1/d for softmax, log d for log-softmax.
        let factor: Float16x
        let isLog: Bool

        /// `rest`: R = d − 1 summed without the max's unit (a peaked row), log d = log1p(R).
        init(_ stats: (max: Float, sum: Double), isLog: Bool, rest: Double? = nil) {
            let d = stats.sum
            ms = Float16x(repeating: stats.max == -.infinity ? 0 : stats.max)
            let logD = rest.map(log1p) ?? log(d)
            factor = Float16x(repeating: d == 0 ? 0 : Float(isLog ? logD : 1 / d))
            self.isLog = isLog
        }

        // (z − m) − log d, not z − (m + log d): the latter loses log d when |m| ≫ 1.
        @inline(__always)
        func callAsFunction(_ z: Float16x) -> Float16x { isLog ? (z - ms) - factor : vexp(z - ms) * factor }
    }

    // MARK: Online with each row's columns split into shards

    /// Pass 1 of every (row, shard) in parallel, the shards' (m, d) of a row merged, then
    /// pass 2 of every (row, shard): all cores work when there are fewer rows than cores.
    private static func splitOnline(_ shape: Shape, isLog: Bool, logits: (Int) -> Logits,
                                    _ y: UnsafeMutablePointer<Float>) {
        let (rows, cols) = (shape.rows, shape.cols)
        let shards = shardCount(shape)
        // Shard boundaries on whole vectors: only the last shard has a partial one.
        let width = ((cols + shards - 1) / shards + 15) / 16 * 16
        let columns = { (shard: Int) in min(cols, shard * width) ..< min(cols, (shard + 1) * width) }
        var stats = [(max: Float, sum: Double)](repeating: (-.infinity, 0), count: rows * shards)
        stats.withUnsafeMutableBufferPointer { stats in
            parallelRows(rows * shards, cols: width) { tasks in
                for task in tasks {
                    var lanes = OnlineLanes()
                    accumulate(logits(task / shards), columns(task % shards), into: &lanes)
                    stats[task] = lanes.merged
                }
            }
            for row in 0 ..< rows {
                for shard in 1 ..< shards {
                    let (a, b) = (stats[row * shards], stats[row * shards + shard])
                    stats[row * shards] = NormalizerStatistics.mergePair(a.max, a.sum, b.max, b.sum)
                }
            }
            // Log-softmax of peaked rows: R without the max's unit, each shard's part in
            // parallel (`peakedRest`); the merged d rounded R against the unit.
            var rests = [Double](repeating: 0, count: rows * shards)
            if isLog && (0 ..< rows).contains(where: { isPeaked(stats[$0 * shards]) }) {
                let merged = UnsafeBufferPointer(stats)
                rests.withUnsafeMutableBufferPointer { rests in
                    parallelRows(rows * shards, cols: width) { tasks in
                        for task in tasks where isPeaked(merged[task / shards * shards]) {
                            rests[task] = restSum(logits(task / shards), columns(task % shards),
                                                  max: merged[task / shards * shards].max)
                        }
                    }
                }
            }
            parallelRows(rows * shards, cols: width) { tasks in
                for task in tasks {
                    let row = task / shards
                    let merged = stats[row * shards]
                    let rest = isLog && isPeaked(merged)
                        ? rests[row * shards ..< (row + 1) * shards].reduce(0, +) - 1 : nil
                    mapRow(logits(row), y + row * cols, columns(task % shards),
                           Normalised(merged, isLog: isLog, rest: rest))
                }
            }
        }
    }

    /// Shards per row: 4 tasks per core in all (as `parallelRows`), each ≥ 16384 columns
    /// (a merge and a task per shard are not worth less). 1 when rows fill the cores.
    static func shardCount(_ shape: Shape) -> Int {
        let tasks = 4 * ProcessInfo.processInfo.activeProcessorCount
        return max(1, min((tasks + shape.rows - 1) / shape.rows, shape.cols / 16384))
    }

    // MARK: Two-pass (Dukhan & Ablavatski): Σ e^z as S·2^N without a max; output

    private static func twoPass(_ row: Logits, _ y: UnsafeMutablePointer<Float>, cols: Int, isLog: Bool) {
        var lanes = TwoPassLanes()
        accumulate(row, 0 ..< cols, into: &lanes)
        let sum = lanes.merged
        // A peaked row (S < 1.25·e^0.35: d = S·2^N/e^max may be < 1.25): log S would
        // cancel against the max's r. Log-softmax then as the three-pass: max, R without
        // the max's unit term, (z − m) − log1p(R).
        if isLog && sum.s > 0 && sum.s < SoftmaxRowsCPU.peakedSum * 1.419_067_5 {
            var top = MaxLanes()
            accumulate(row, 0 ..< cols, into: &top)
            let m = top.m.max()
            let rest = restSum(row, 0 ..< cols, max: m) - 1
            mapRow(row, y, 0 ..< cols, Normalised((m, rest + 1), isLog: true, rest: rest))
            return
        }
        mapRow(row, y, 0 ..< cols, TwoPassOutput(sum, isLog: isLog))
    }

    // ln 2 in four parts, the first three of 7 significant bits: k·C1, k·C2, k·C3 are exact
    // for |k| ≤ 2^17 (no fma on the baseline x86-64 target; the kernel uses 3 parts + fma).
    private static let ln2Parts: (Float, Float, Float, Float) =
        (0.695_312_5, -0.002_166_748_046_875, 1.430_511_474_609_375e-6, -1.904_654_2e-9)

    /// e^z = 2^k·e^r: k = round(z·log2 e) (t itself from |t| ≥ 2^22, where t is an
    /// integer or k + 0.5), r = z − k·ln2 clamped to ±0.35. Accurate while |z| < ~9e4
    /// (|t| < 2^17, where the rounding of t moves k by < 0.005 and k·C_i is exact);
    /// beyond, r is only clamped: equal z still give equal (k, r), so ties and ±1e30 rows
    /// come out right, but differences of order 1 between such z are lost. z = −inf gives
    /// k = −inf, NaN and +inf a NaN r.
    @inline(__always)
    private static func powerSplit(_ z: Float16x) -> (k: Float16x, r: Float16x) {
        let t = z * Float16x(repeating: 1.442_695_04)
        let magic = Float16x(repeating: 12_582_912)
        var k = (t + magic) - magic
        k.replace(with: t, where: .!((t .< 4_194_304) .& (t .> -4_194_304)))
        var r = z - k * Float16x(repeating: ln2Parts.0)
        r = r - k * Float16x(repeating: ln2Parts.1)
        r = r - k * Float16x(repeating: ln2Parts.2)
        r = r - k * Float16x(repeating: ln2Parts.3)
        r.replace(with: 0.35, where: r .> 0.35)
        r.replace(with: -0.35, where: r .< -0.35)
        return (k, r)
    }

    /// Per-lane Σ e^z = S·2^N (N = −inf: empty), S rescaled by exact powers of two.
    private struct TwoPassLanes: VectorAccumulator {
        var n = Float16x(repeating: -.infinity)
        var s = KahanLanes()

        /// e^z·2^−N for k ≤ N (after `raise`); 0 for z = −inf, NaN for NaN.
        @inline(__always)
        func term(_ z: Float16x, _ kr: (k: Float16x, r: Float16x)) -> Float16x {
            (expPolynomial(kr.r) * vpow2(kr.k - n)).replacing(with: 0, where: z .== -.infinity)
        }

        @inline(__always)
        mutating func raise(_ k: Float16x) {
            let grown = k .> n  // a NaN k never raises N
            if any(grown) { rescale(to: k, where: grown) }
        }

        @inline(never)  // the cold path, as in OnlineLanes
        mutating func rescale(to k: Float16x, where grown: SIMDMask<SIMD16<Int32>>) {
            let nNew = n.replacing(with: k, where: grown)
            s.scale(by: vpow2(n - nNew))
            n = nNew
        }

        @inline(__always)
        mutating func add(_ z0: Float16x, _ z1: Float16x, _ z2: Float16x, _ z3: Float16x) {
            let (a, b, c, d) = (powerSplit(z0), powerSplit(z1), powerSplit(z2), powerSplit(z3))
            raise(laneMax(laneMax(a.k, b.k), laneMax(c.k, d.k)))
            s.add((term(z0, a) + term(z1, b)) + (term(z2, c) + term(z3, d)))
        }

        @inline(__always)
        mutating func add(_ z: Float16x) {
            let kr = powerSplit(z)
            raise(kr.k)
            s.add(term(z, kr))
        }

        /// The lanes merged: (N = max lane N, S = Σ S_l·2^(N_l − N)).
        var merged: (n: Float, s: Double) {
            let top = n.max()
            return (top, (s.value * vpow2(n - Float16x(repeating: top))).sumInDouble)
        }
    }

    /// y = e^r·2^(k−N)/S or (k − N)·ln2 + r − log S (k − N an exact integer). A fully
    /// masked row (S = 0) gives 0 / −inf, a NaN S (a NaN or +inf z) a NaN row.
    private struct TwoPassOutput: VectorMap {
        let n: Float16x
        /// 1/S for softmax, log S for log-softmax.
        let factor: Float16x
        let isLog: Bool

        init(_ sum: (n: Float, s: Double), isLog: Bool) {
            n = Float16x(repeating: sum.n)
            factor = Float16x(repeating: sum.s == 0 ? 0 : Float(isLog ? log(sum.s) : 1 / sum.s))
            self.isLog = isLog
        }

        @inline(__always)
        func callAsFunction(_ z: Float16x) -> Float16x {
            let (k, r) = powerSplit(z)
            let masked = z .== -.infinity
            if isLog {
                return ((k - n) * Float16x(repeating: 0.693_147_18) + r - factor)
                    .replacing(with: z - factor, where: masked)
            }
            return (expPolynomial(r) * (vpow2(k - n) * factor)).replacing(with: 0 * factor, where: masked)
        }
    }

    // MARK: Shared pieces

    /// Feeds z of `columns` (starting on a vector boundary of the row) to `lanes` 4
    /// vectors at a time, then one at a time, the last vector padded with −inf.
    @inline(__always)
    private static func accumulate<A: VectorAccumulator>(_ row: Logits, _ columns: Range<Int>, into lanes: inout A) {
        var j = columns.lowerBound
        while j + 64 <= columns.upperBound {
            lanes.add(row.z16(j), row.z16(j + 16), row.z16(j + 32), row.z16(j + 48))
            j += 64
        }
        while j + 16 <= columns.upperBound {
            lanes.add(row.z16(j))
            j += 16
        }
        if j < columns.upperBound { lanes.add(row.zTail(j, count: columns.upperBound - j)) }
    }

    /// y = map(z) over `columns`, 16 at a time.
    @inline(__always)
    private static func mapRow<M: VectorMap>(_ row: Logits, _ y: UnsafeMutablePointer<Float>, _ columns: Range<Int>,
                                             _ map: M) {
        var j = columns.lowerBound
        while j + 16 <= columns.upperBound {
            store16(map(row.z16(j)), y + j)
            j += 16
        }
        let count = columns.upperBound - j
        if count > 0 {
            let v = map(row.zTail(j, count: count))
            for lane in 0 ..< count { y[j + lane] = v[lane] }
        }
    }

    /// Lane-wise max in which a NaN never wins over a number (it may hide later ones in
    /// its lane: harmless, a NaN makes the row's sum and so the whole row NaN).
    @inline(__always)
    private static func laneMax(_ a: Float16x, _ b: Float16x) -> Float16x { a.replacing(with: b, where: b .> a) }
}

/// Per-lane state fed a row's z, 4 vectors or 1 at a time. (Protocols, not closures: the
/// generic specialisations inline `add`, closures were left as calls.)
private protocol VectorAccumulator {
    mutating func add(_ z0: Float16x, _ z1: Float16x, _ z2: Float16x, _ z3: Float16x)
    mutating func add(_ z: Float16x)
}

/// An element-wise function of z, for the output pass.
private protocol VectorMap {
    func callAsFunction(_ z: Float16x) -> Float16x
}

/// Per-lane Kahan sum: plain float lanes lose ~1e-5 relative over 10^6 columns.
struct KahanLanes {
    var sum = Float16x(repeating: 0)
    var carry = Float16x(repeating: 0)

    @inline(__always)
    mutating func add(_ e: Float16x) {
        let t = e - carry
        let u = sum + t
        carry = (u - sum) - t
        sum = u
    }

    @inline(__always)
    mutating func scale(by factor: Float16x) {
        sum *= factor
        carry *= factor
    }

    var value: Float16x { sum - carry }
    var total: Double { value.sumInDouble }
}

extension SIMD16<Float> {
    var sumInDouble: Double { indices.reduce(0) { $0 + Double(self[$1]) } }
}
