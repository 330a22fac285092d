import Foundation

/// The softmax family's rows on the CPU path: the fallback, and what every OpenCL device
/// is checked against (the tests' naive Double references check it in turn). Three
/// passes per row (build z and its max; e^(z−m) and its sum; normalise), sums
/// accumulated in Double, so it is more accurate than the kernels. Rows run in parallel
/// on all cores. `forward` is also the CPU path's `block` variant (the others:
/// SoftmaxVariantsCPU).
enum SoftmaxRowsCPU {
    struct Masks {
        var additive: UnsafePointer<Float>?
        var additiveStride: Int
        var keep: UnsafePointer<Bool>?
        var keepStride: Int
    }

    /// `y` holds `kind.outputCount(shape)` elements; `y` may alias `x` unless `kind` is LSE.
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, shape: Shape,
                        kind: SoftmaxKind, scale: Float, masks: Masks) {
        let cols = shape.cols
        parallelRows(shape.rows, cols: cols) { rows in
            // z goes to the output row, or to scratch when the output is one value per row.
            let scratch = kind == .logSumExp ? UnsafeMutablePointer<Float>.allocate(capacity: cols) : nil
            defer { scratch?.deallocate() }
            for row in rows {
                let z = scratch ?? y + row * cols
                let m = buildRow(Logits(x, row: row, cols: cols, scale: scale, masks: masks), z, cols: cols)
                let out = kind == .logSumExp ? y + row : z
                normalise(z, out, max: m, cols: cols, kind: kind)
            }
        }
    }

    /// One row's logits z = scale·x + additive, −inf where not kept (a masked-out
    /// position's x is never used, so a NaN there is ignored). Shared by every CPU variant.
    struct Logits {
        let x: UnsafePointer<Float>
        let add: UnsafePointer<Float>?
        let keep: UnsafePointer<Bool>?
        let scale: Float

        init(_ x: UnsafePointer<Float>, row: Int, cols: Int, scale: Float, masks: Masks) {
            self.x = x + row * cols
            add = masks.additive.map { $0 + row * masks.additiveStride }
            keep = masks.keep.map { $0 + row * masks.keepStride }
            self.scale = scale
        }

        /// z of columns j ..< j + 16.
        @inline(__always)
        func z16(_ j: Int) -> Float16x {
            var v = load16(x + j) * Float16x(repeating: scale)
            if let add { v += load16(add + j) }
            if let keep {
                // Bool is one byte, 0 or 1.
                let kept = UnsafeRawPointer(keep + j).loadUnaligned(as: SIMD16<UInt8>.self)
                v.replace(with: -.infinity, where: SIMD16<Int32>(truncatingIfNeeded: kept) .== 0)
            }
            return v
        }

        @inline(__always)
        func z1(_ j: Int) -> Float {
            if let keep, !keep[j] { return -.infinity }
            let v = x[j] * scale
            return add.map { v + $0[j] } ?? v
        }

        /// z of columns j ..< j + count (count < 16), the other lanes −inf: a masked column
        /// to every algorithm.
        func zTail(_ j: Int, count: Int) -> Float16x {
            var v = Float16x(repeating: -.infinity)
            for lane in 0 ..< count { v[lane] = z1(j + lane) }
            return v
        }
    }

    /// Stores z of the row into `z`; returns max(z) ignoring NaN.
    private static func buildRow(_ row: Logits, _ z: UnsafeMutablePointer<Float>, cols: Int) -> Float {
        var vmax = Float16x(repeating: -.infinity)
        var j = 0
        while j + 16 <= cols {
            let v = row.z16(j)
            store16(v, z + j)
            vmax.replace(with: v, where: v .> vmax)
            j += 16
        }
        var m = vmax.max()
        while j < cols {
            let v = row.z1(j)
            z[j] = v
            if v > m { m = v }
            j += 1
        }
        return m
    }

    /// Per-row online-normalizer statistics: m = max z (NaN ignored), d = Σ e^(z−m);
    /// a fully masked row gives (−inf, 0), a row holding NaN gives d = NaN.
    static func statistics(_ x: UnsafePointer<Float>, max mOut: UnsafeMutablePointer<Float>,
                           sum dOut: UnsafeMutablePointer<Float>, shape: Shape, scale: Float, masks: Masks) {
        let cols = shape.cols
        parallelRows(shape.rows, cols: cols) { rows in
            let z = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            defer { z.deallocate() }
            for row in rows {
                let m = buildRow(Logits(x, row: row, cols: cols, scale: scale, masks: masks), z, cols: cols)
                mOut[row] = m
                dOut[row] = m == -.infinity ? (hasNaN(z, cols) ? .nan : 0)
                                            : Float(expSum(z, cols: cols, max: m, storeExp: false))
            }
        }
    }

    private static func hasNaN(_ z: UnsafePointer<Float>, _ cols: Int) -> Bool {
        (0 ..< cols).contains { z[$0].isNaN }
    }

    /// Σ e^(z−m), in Float blocks folded into Double; with `storeExp`, z becomes e^(z−m).
    private static func expSum(_ z: UnsafeMutablePointer<Float>, cols: Int, max m: Float, storeExp: Bool) -> Double {
        let vm = Float16x(repeating: m)
        var sum: Double = 0
        var j = 0
        while j + 16 <= cols {
            var block = Float16x(repeating: 0)
            let end = min(cols, j + 1024)
            while j + 16 <= end {
                let e = vexp(load16(z + j) - vm)
                if storeExp { store16(e, z + j) }
                block += e
                j += 16
            }
            sum += Double(block.sum())
        }
        while j < cols {
            let e = sexp(z[j] - m)
            if storeExp { z[j] = e }
            sum += Double(e)
            j += 1
        }
        return sum
    }

    /// Below this d = Σ e^(z−m), log-softmax and log-sum-exp take log d as log1p(R), R the
    /// sum without the max's unit term, summed apart (`remainder`): d's own rounding would
    /// cost R, and so the max's log-softmax −log1p(R), its relative accuracy.
    static let peakedSum = 1.25

    /// R = Σ_{z≠m} e^(z−m) + (count of z = m) − 1 for a finite max m, the unit never in a
    /// Float sum.
    static func remainder(_ z: UnsafePointer<Float>, cols: Int, max m: Float) -> Double {
        let vm = Float16x(repeating: m)
        var sum: Double = 0
        var hits = Float16x(repeating: 0)  // counts: exact in Float up to 2^24 per lane
        var j = 0
        while j + 16 <= cols {
            var block = Float16x(repeating: 0)
            let end = min(cols, j + 1024)
            while j + 16 <= end {
                let v = load16(z + j)
                let hit = v .== vm
                block += vexp(v - vm).replacing(with: 0, where: hit)
                hits += Float16x(repeating: 0).replacing(with: 1, where: hit)
                j += 16
            }
            sum += Double(block.sum())
        }
        var tops = hits.sumInDouble
        while j < cols {
            if z[j] == m { tops += 1 } else { sum += Double(sexp(z[j] - m)) }
            j += 1
        }
        return sum + (tops - 1)
    }

    private static func normalise(_ z: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, max m: Float,
                                  cols: Int, kind: SoftmaxKind) {
        if m == -.infinity {
            // Fully masked (or all −inf): zeros and −inf, unless a NaN hides in the row.
            let fill: Float = hasNaN(z, cols) ? .nan : (kind == .softmax ? 0 : -.infinity)
            if kind == .logSumExp { out[0] = fill } else { out.update(repeating: fill, count: cols) }
            return
        }
        // Pass 2: e^(z−m), kept in z for softmax.
        let sum = expSum(z, cols: cols, max: m, storeExp: kind == .softmax)
        let vm = Float16x(repeating: m)
        var j = 0
        // log d; a peaked row (d ≈ 1, whose max has log-softmax −R ≈ −1e-9) as log1p of R
        // summed again without the max's unit term: d's Float blocks rounded R against it.
        let logSum = { sum < peakedSum ? log1p(remainder(z, cols: cols, max: m)) : log(sum) }
        // Pass 3.
        switch kind {
        case .logSumExp:
            out[0] = Float(Double(m) + logSum())
        case .logSoftmax:
            // (z − m) − log d, not z − (m + log d): the latter loses log d when |m| ≫ 1.
            let vlog = Float16x(repeating: Float(logSum()))
            while j + 16 <= cols { store16(load16(z + j) - vm - vlog, out + j); j += 16 }
            while j < cols { out[j] = z[j] - m - vlog[0]; j += 1 }
        case .softmax:
            let inverse = Float16x(repeating: Float(1 / sum))
            while j + 16 <= cols { store16(load16(z + j) * inverse, out + j); j += 16 }
            while j < cols { out[j] = z[j] * inverse[0]; j += 1 }
        }
    }

    /// Gradient of softmax or log-softmax from its output `y` and upstream `dy`.
    /// Softmax: dx = scale·y·(dy − Σ dy·y). Log-softmax: dx = scale·(dy − e^y·Σ dy),
    /// 0 where y = −inf (masked positions receive no gradient).
    static func backward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         shape: Shape, kind: SoftmaxKind, scale: Float) {
        let cols = shape.cols
        let isLog = kind == .logSoftmax
        parallelRows(shape.rows, cols: cols) { rows in
            for row in rows {
                let (y, dy, dx) = (y + row * cols, dy + row * cols, dx + row * cols)
                var total: Double = 0
                var j = 0
                while j + 16 <= cols {
                    let g = load16(dy + j)
                    total += Double((isLog ? g : g * load16(y + j)).sum())
                    j += 16
                }
                while j < cols { total += Double(isLog ? dy[j] : dy[j] * y[j]); j += 1 }
                let vtotal = Float16x(repeating: Float(total))
                let vscale = Float16x(repeating: scale)
                j = 0
                while j + 16 <= cols {
                    let v = load16(y + j)
                    let g = load16(dy + j)
                    var d: Float16x
                    if isLog {
                        d = vscale * (g - vexp(v) * vtotal)
                        d.replace(with: 0, where: v .== -.infinity)
                    } else {
                        d = vscale * v * (g - vtotal)
                    }
                    store16(d, dx + j)
                    j += 16
                }
                while j < cols {
                    if isLog {
                        dx[j] = y[j] == -.infinity ? 0 : scale * (dy[j] - sexp(y[j]) * vtotal[0])
                    } else {
                        dx[j] = scale * y[j] * (dy[j] - vtotal[0])
                    }
                    j += 1
                }
            }
        }
    }
}
