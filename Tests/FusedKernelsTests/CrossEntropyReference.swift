import Foundation
@testable import FusedKernels

/// The linear cross-entropy in Double, naively, from the formulas of CrossEntropy.swift:
/// the logits materialised, every option but gradient filtering (the reference is exact).
/// E `[n, d]`, C `[v, d]`, bias `[v]`, as Doubles so that finite differences can perturb them.
struct CrossEntropyReference {
    var e: [Double]
    var c: [Double]
    var bias: [Double]?
    let targets: [Int32]
    let n: Int, d: Int, v: Int
    let options: CrossEntropyOptions

    init(e: [Float], c: [Float], bias: [Float]?, targets: [Int32], d: Int, options: CrossEntropyOptions) {
        (self.e, self.c, self.bias) = (e.map(Double.init), c.map(Double.init), bias?.map(Double.init))
        (self.targets, self.d, self.options) = (targets, d, options)
        (n, v) = (targets.count, c.count / d)
    }

    func isIgnored(_ i: Int) -> Bool { targets[i] == options.ignoreIndex }

    /// Row i's logits before the soft-cap: E_i·C_j + b_j.
    func rawLogits(_ i: Int) -> [Double] {
        (0 ..< v).map { j -> Double in
            var z = bias?[j] ?? 0
            for k in 0 ..< d { z += e[i * d + k] * c[j * d + k] }
            return z
        }
    }

    /// Row i's logits, soft-capped if asked.
    func logits(_ i: Int) -> [Double] {
        guard let cap = options.softCap.map(Double.init) else { return rawLogits(i) }
        return rawLogits(i).map { cap * tanh($0 / cap) }
    }

    func logSumExp(_ z: [Double]) -> Double {
        let top = z.max()!
        return top + log(z.reduce(0) { $0 + exp($1 - top) })
    }

    /// Per-token losses (0 when ignored) and log-sum-exps.
    var forward: (loss: [Double], logSumExp: [Double]) {
        let (eps, lambda) = (Double(options.labelSmoothing), Double(options.zLoss))
        var (loss, lses) = ([Double](), [Double]())
        for i in 0 ..< n {
            let z = logits(i)
            let lse = logSumExp(z)
            lses.append(lse)
            guard !isIgnored(i) else { loss.append(0); continue }
            loss.append(lse - (1 - eps) * z[Int(targets[i])] - eps / Double(v) * z.reduce(0, +) + lambda * lse * lse)
        }
        return (loss, lses)
    }

    /// The op's output: `[n]` for `none`, else the sum or the mean over counted tokens.
    var reducedLoss: [Double] {
        let loss = forward.loss
        let counted = (0 ..< n).filter { !isIgnored($0) }.count
        switch options.reduction {
        case .none: return loss
        case .sum: return [loss.reduce(0, +)]
        case .mean: return [counted == 0 ? 0 : loss.reduce(0, +) / Double(counted)]
        }
    }

    /// Σ_k upstream_k · output_k: the scalar whose gradient the backward returns.
    func objective(upstream: [Double]) -> Double {
        zip(reducedLoss, upstream).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// The per-token weight w_i of the upstream gradient (0 when ignored).
    func weights(upstream: [Double]) -> [Double] {
        let counted = Double((0 ..< n).filter { !isIgnored($0) }.count)
        return (0 ..< n).map { i in
            guard !isIgnored(i) else { return 0 }
            switch options.reduction {
            case .none: return upstream[i]
            case .sum: return upstream[0]
            case .mean: return upstream[0] / counted
            }
        }
    }

    struct Gradients {
        var e: [Double], c: [Double], bias: [Double]
        /// Per element, Σ of the absolute terms (|dz|-like magnitudes times |C| or |E|):
        /// the scale of the rounding errors an fp32 computation makes in it.
        var eScale: [Double], cScale: [Double], biasScale: [Double]
    }

    /// dz_ij = w_i·[(1 + 2λ·LSE_i)·p_ij − (1 − ε)·1{j = t_i} − ε/V]·cap'(z_ij);
    /// dE = dZ·C, dC = dZᵀ·E, dBias_j = Σ_i dz_ij.
    func gradients(upstream: [Double]) -> Gradients {
        let w = weights(upstream: upstream)
        let (eps, lambda) = (Double(options.labelSmoothing), Double(options.zLoss))
        var g = Gradients(e: .init(repeating: 0, count: n * d), c: .init(repeating: 0, count: v * d),
                          bias: .init(repeating: 0, count: v), eScale: .init(repeating: 0, count: n * d),
                          cScale: .init(repeating: 0, count: v * d), biasScale: .init(repeating: 0, count: v))
        for i in 0 ..< n where w[i] != 0 {
            let z = logits(i)
            let lse = logSumExp(z)
            for j in 0 ..< v {
                let p = exp(z[j] - lse)
                let target = j == Int(targets[i]) ? 1 - eps : 0
                let cap = options.softCap.map { 1 - (z[j] / Double($0)) * (z[j] / Double($0)) } ?? 1
                let dz = w[i] * ((1 + 2 * lambda * lse) * p - target - eps / Double(v)) * cap
                let size = abs(w[i] * cap) * ((1 + 2 * lambda * lse) * p + target + eps / Double(v))
                g.bias[j] += dz
                g.biasScale[j] += size
                for k in 0 ..< d {
                    g.e[i * d + k] += dz * c[j * d + k]
                    g.c[j * d + k] += dz * e[i * d + k]
                    g.eScale[i * d + k] += size * abs(c[j * d + k])
                    g.cScale[j * d + k] += size * abs(e[i * d + k])
                }
            }
        }
        return g
    }

    /// The largest |z| a logit can reach before the soft-cap: max_ij Σ_k |E_ik·C_jk| + |b_j|.
    var logitScale: Double {
        var top = 0.0
        for i in 0 ..< n {
            for j in 0 ..< v {
                var size = abs(bias?[j] ?? 0)
                for k in 0 ..< d { size += abs(e[i * d + k] * c[j * d + k]) }
                top = max(top, size)
            }
        }
        return top
    }
}
