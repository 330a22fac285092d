import Foundation
@testable import FusedKernels

/// Attention naively, from the formulas of AttentionOptions.swift, every score
/// materialised, in `T`: in Double it is the reference the op is checked against (its
/// backward is the analytic one, checked itself against finite differences); in Float it
/// is the materialised computation at the op's precision, whose error against the Double
/// one sets the tolerance (AttentionTests). Q `[B, Hq, Lq, D]`, K and V `[B, Hkv, Lk, D]`.
struct NaiveAttention<T: NaiveReal> {
    struct Result {
        var o: [T]
        /// Per row; nil for sigmoid.
        var logSumExp: [T]?
        var dq: [T] = [], dk: [T] = [], dv: [T] = []
        /// Per row (b, h, i): every key removed.
        var emptyRows: [Bool] = []
        /// Per key (b, kv head, j): no row of the group keeps it.
        var unusedKeys: [Bool] = []
    }

    var q: [T], k: [T], v: [T]
    let sizes: AttentionSizes
    let isSoftmax: Bool
    let scale: T
    let sigmoidBias: T
    let slopes: [T]?
    let additive: HostMask<T>?
    let keep: HostMask<Bool>?
    let causal: Bool
    let window: AttentionWindow?
    /// The op's storage type: outputs are rounded to it, and the backward's
    /// Δ_i = Σ_d dO_id·O_id reads the stored O, as the op's does. nil for the Double
    /// reference: nothing rounded, Δ_i = Σ_j P_ij·dP_ij (the analytic softmax Jacobian).
    let storage: DType?

    /// Whether key j is kept for row i by causal and the window (i' = i + Lk − Lq).
    func inBand(_ i: Int, _ j: Int) -> Bool {
        let aligned = i + sizes.lk - sizes.lq
        if causal, j > aligned { return false }
        if let left = window?.left, j < aligned - left { return false }
        if let right = window?.right, j > aligned + right { return false }
        return true
    }

    /// The score of (b, h, i, j), nil where the key is removed.
    func score(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> T? {
        guard inBand(i, j), keep?.value(b, h, i, j) ?? true else { return nil }
        let d = sizes.d
        var s = scale * T.dot(q, queryRow(b, h, i), k, keyRow(b, h, j), d)
        if let slopes { s -= slopes[h] * T(abs(i + sizes.lk - sizes.lq - j)) }
        if let additive { s += additive.value(b, h, i, j) }
        return s
    }

    func queryRow(_ b: Int, _ h: Int, _ i: Int) -> Int { ((b * sizes.hq + h) * sizes.lq + i) * sizes.d }
    func keyRow(_ b: Int, _ h: Int, _ j: Int) -> Int {
        ((b * sizes.hkv + h / (sizes.hq / sizes.hkv)) * sizes.lk + j) * sizes.d
    }

    /// Row i's probabilities over its kept keys (key, P) and its log-sum-exp (−∞ when
    /// every key is removed).
    func probabilities(_ b: Int, _ h: Int, _ i: Int) -> (p: [(Int, T)], lse: T) {
        let scores = (0 ..< sizes.lk).compactMap { j in score(b, h, i, j).map { (j, $0) } }
        guard isSoftmax else { return (scores.map { ($0.0, 1 / (1 + T.exp(-($0.1 + sigmoidBias)))) }, 0) }
        guard let top = scores.map(\.1).max() else { return ([], -.infinity) }
        let sum = scores.reduce(T(0)) { $0 + T.exp($1.1 - top) }
        return (scores.map { ($0.0, T.exp($0.1 - top) / sum) }, top + T.log(sum))
    }

    /// O and the log-sum-exp; with dO, also dQ, dK and dV (the gradients of Σ dO·O).
    func run(gradient dO: [T]? = nil) -> Result {
        let (sz, d) = (sizes, sizes.d)
        var result = Result(o: [T](repeating: 0, count: q.count),
                            logSumExp: isSoftmax ? [T](repeating: 0, count: sz.b * sz.hq * sz.lq) : nil)
        result.emptyRows = [Bool](repeating: false, count: sz.b * sz.hq * sz.lq)
        result.unusedKeys = [Bool](repeating: true, count: sz.b * sz.hkv * sz.lk)
        if dO != nil {
            (result.dq, result.dk, result.dv) = (result.o, [T](repeating: 0, count: k.count), [T](repeating: 0, count: v.count))
        }
        for b in 0 ..< sz.b {
            for h in 0 ..< sz.hq {
                for i in 0 ..< sz.lq {
                    let (p, lse) = probabilities(b, h, i)
                    let row = queryRow(b, h, i)
                    result.emptyRows[(b * sz.hq + h) * sz.lq + i] = p.isEmpty
                    for (j, _) in p { result.unusedKeys[keyRow(b, h, j) / d] = false }
                    for (j, pj) in p { T.axpy(pj, v, keyRow(b, h, j), &result.o, row, d) }
                    if let storage { for c in 0 ..< d { result.o[row + c] = T(storage.round(result.o[row + c].float)) } }
                    result.logSumExp?[(b * sz.hq + h) * sz.lq + i] = lse
                    guard let dO else { continue }
                    let dP = p.map { T.dot(dO, row, v, keyRow(b, h, $0.0), d) }
                    var delta = T(0)
                    if isSoftmax {
                        delta = storage == nil ? zip(p, dP).reduce(T(0)) { $0 + $1.0.1 * $1.1 }
                                               : T.dot(dO, row, result.o, row, d)
                    }
                    for ((j, pj), dPj) in zip(p, dP) {
                        let dS = isSoftmax ? pj * (dPj - delta) : dPj * pj * (1 - pj)
                        T.axpy(scale * dS, k, keyRow(b, h, j), &result.dq, row, d)
                        T.axpy(scale * dS, q, row, &result.dk, keyRow(b, h, j), d)
                        T.axpy(pj, dO, row, &result.dv, keyRow(b, h, j), d)
                    }
                }
            }
        }
        if dO != nil, let storage {
            for keyPath in [\Result.dq, \.dk, \.dv] {
                result[keyPath: keyPath] = result[keyPath: keyPath].map { T(storage.round($0.float)) }
            }
        }
        return result
    }

    /// Σ dO·O: the scalar whose gradients `run(gradient:)` returns.
    func objective(_ dO: [T]) -> T {
        let o = run().o
        return T.dot(dO, 0, o, 0, o.count)
    }
}

/// B, Hq, Hkv, Lq, Lk, D.
struct AttentionSizes: Sendable {
    var b: Int, hq: Int, hkv: Int, lq: Int, lk: Int, d: Int
}

/// A host mask of its own shape (rank ≤ 4), read as broadcast to `[B, Hq, Lq, Lk]`.
struct HostMask<Element> {
    let values: [Element]
    let shape: [Int]
    /// Row-major strides of `shape` padded to rank 4, 0 on extents of 1.
    private let strides: [Int]

    init(values: [Element], shape: [Int]) {
        (self.values, self.shape) = (values, shape)
        let padded = [Int](repeating: 1, count: 4 - shape.count) + shape
        strides = (0 ..< 4).map { axis in padded[axis] == 1 ? 0 : padded[(axis + 1)...].reduce(1, *) }
    }

    func value(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Element {
        values[b * strides[0] + h * strides[1] + i * strides[2] + j * strides[3]]
    }

    func map<U>(_ transform: (Element) -> U) -> HostMask<U> { HostMask<U>(values: values.map(transform), shape: shape) }
}

/// The arithmetic the naive attention needs, with the O(L²·D) loops (dot, axpy) written
/// per type on pointers: unspecialised generic loops are slow in the tests' debug builds.
protocol NaiveReal: BinaryFloatingPoint {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// Σ_c a[i + c]·b[j + c], c < n.
    static func dot(_ a: [Self], _ i: Int, _ b: [Self], _ j: Int, _ n: Int) -> Self
    /// y[j + c] += alpha·x[i + c], c < n.
    static func axpy(_ alpha: Self, _ x: [Self], _ i: Int, _ y: inout [Self], _ j: Int, _ n: Int)
    init(_ value: Float)
    var float: Float { get }
}

extension Double: NaiveReal {
    static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    static func log(_ x: Double) -> Double { Foundation.log(x) }
    static func dot(_ a: [Double], _ i: Int, _ b: [Double], _ j: Int, _ n: Int) -> Double {
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            var (sum, c) = (0.0, 0)
            while c < n { sum += a[i + c] * b[j + c]; c += 1 }
            return sum
        } }
    }
    static func axpy(_ alpha: Double, _ x: [Double], _ i: Int, _ y: inout [Double], _ j: Int, _ n: Int) {
        x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { y in
            var c = 0
            while c < n { y[j + c] += alpha * x[i + c]; c += 1 }
        } }
    }
    var float: Float { Float(self) }
}

extension Float: NaiveReal {
    static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    static func log(_ x: Float) -> Float { Foundation.log(x) }
    static func dot(_ a: [Float], _ i: Int, _ b: [Float], _ j: Int, _ n: Int) -> Float {
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            var (sum, c) = (Float(0), 0)
            while c < n { sum += a[i + c] * b[j + c]; c += 1 }
            return sum
        } }
    }
    static func axpy(_ alpha: Float, _ x: [Float], _ i: Int, _ y: inout [Float], _ j: Int, _ n: Int) {
        x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { y in
            var c = 0
            while c < n { y[j + c] += alpha * x[i + c]; c += 1 }
        } }
    }
}
