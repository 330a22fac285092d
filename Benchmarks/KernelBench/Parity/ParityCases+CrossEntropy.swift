import FusedKernels

/// The linear cross-entropy's option sets. The backward runs with `gradientFilter: nil`:
/// the filter skips blocks by the kernel's tile, which differs between devices, presets
/// and the CPU path, so filtered gradients are not expected to agree.
enum CrossEntropyVariant: String, CaseIterable {
    case mean
    case ignoreIndexNone = "none, ignore index"
    case everyOption = "none, bias, smoothing 0.1, z-loss 1e-3, soft-cap 20"
    case sumWithLogSumExp = "sum, log-sum-exp"

    var options: CrossEntropyOptions {
        switch self {
        case .mean: return CrossEntropyOptions(gradientFilter: nil)
        case .ignoreIndexNone: return CrossEntropyOptions(reduction: .none, gradientFilter: nil)
        case .everyOption:
            return CrossEntropyOptions(reduction: .none, labelSmoothing: 0.1, zLoss: 1e-3, softCap: 20, gradientFilter: nil)
        case .sumWithLogSumExp: return CrossEntropyOptions(reduction: .sum, gradientFilter: nil, returnLogSumExp: true)
        }
    }

    var hasBias: Bool { self == .everyOption }
}

/// E `[N, D]`, C `[V, D]` in [−1, 1), a bias in [−1, 1), targets with token 2 at the
/// ignore index (−100) unless the variant is the plain mean.
struct CrossEntropyInputs {
    let e, c: Tensor
    let bias: Tensor?
    let targets: Tensor

    init(_ n: Int, _ d: Int, _ v: Int, _ dtype: DType, _ variant: CrossEntropyVariant, on engine: Engine) throws {
        e = try engine.parityTensor(parityValues(n * d, seed: 30, range: 1), [n, d], dtype)
        c = try engine.parityTensor(parityValues(v * d, seed: 31, range: 1), [v, d], dtype)
        bias = variant.hasBias ? try engine.parityTensor(parityValues(v, seed: 32, range: 1), [v], dtype) : nil
        let targets = (0 ..< n).map { Int32(($0 * 7919 + 13) % v) }.enumerated().map { index, target in
            variant != .mean && index == 2 ? Int32(-100) : target
        }
        self.targets = try engine.tensor(targets, shape: [n])
    }
}

extension ParityCase {
    static var crossEntropyCases: [ParityCase] {
        var cases: [ParityCase] = []
        for dtype in parityDTypes {
            for (n, d, v) in [(7, 33, 1001), (3, 64, 4097)] {
                for variant in CrossEntropyVariant.allCases {
                    cases.append(crossEntropy(variant, dtype, n, d, v))
                    cases.append(crossEntropyBackward(variant, dtype, n, d, v))
                }
            }
        }
        return cases
    }

    /// The loss (fp32) sums D products per logit and V exponentials per token.
    static func crossEntropy(_ variant: CrossEntropyVariant, _ dtype: DType, _ n: Int, _ d: Int, _ v: Int) -> ParityCase {
        ParityCase("cross-entropy", variant.rawValue, dtype, shape: [n, d, v], size: v * d) { engine in
            let inputs = try CrossEntropyInputs(n, d, v, dtype, variant, on: engine)
            let output = try engine.linearCrossEntropy(inputs.e, inputs.c, targets: inputs.targets, bias: inputs.bias,
                                                       options: variant.options)
            let loss = try output.loss.floats
            var outputs: [ParityOutput] = [.floats("loss", loss, .reduction(.float32, terms: d + v, magnitude: maxMagnitude(loss)))]
            if let lse = try output.logSumExp?.floats {
                outputs.append(.floats("lse", lse, .reduction(.float32, terms: d + v, magnitude: maxMagnitude(lse))))
            }
            return outputs
        }
    }

    /// dE sums V terms per element, dC and the bias's gradient N; upstream 0.75 (mean,
    /// sum) or one per token (none).
    static func crossEntropyBackward(_ variant: CrossEntropyVariant, _ dtype: DType, _ n: Int, _ d: Int,
                                     _ v: Int) -> ParityCase {
        ParityCase("cross-entropy-backward", variant.rawValue, dtype, shape: [n, d, v], size: v * d) { engine in
            let inputs = try CrossEntropyInputs(n, d, v, dtype, variant, on: engine)
            let options = variant.options
            let upstream = options.reduction == .none
                ? try engine.parityTensor(parityValues(n, seed: 33), [n]) : try engine.parityTensor([0.75], [1])
            let gradients = try engine.linearCrossEntropyBackward(inputs.e, inputs.c, targets: inputs.targets,
                                                                  bias: inputs.bias, upstream: upstream, options: options)
            let named: [(String, Tensor?, Int)] = [("dE", gradients.embeddings, v), ("dC", gradients.classifier, n),
                                                   ("dBias", gradients.bias, n)]
            return try named.compactMap { name, tensor, terms in
                guard let values = try tensor?.floats else { return nil }
                return .floats(name, values, .reduction(dtype, terms: terms * d, magnitude: maxMagnitude(values)))
            }
        }
    }
}
