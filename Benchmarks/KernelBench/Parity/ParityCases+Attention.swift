import FusedKernels

/// One attention problem: Q `[B, Hq, Lq, D]`, K and V `[B, Hkv, Lk, D]`.
struct AttentionShape {
    let batch, queryHeads, keyHeads, queryLength, keyLength, headSize: Int

    var query: [Int] { [batch, queryHeads, queryLength, headSize] }
    var key: [Int] { [batch, keyHeads, keyLength, headSize] }
    /// As records show it: B, Hq, Hkv, Lq, Lk, D.
    var label: [Int] { [batch, queryHeads, keyHeads, queryLength, keyLength, headSize] }

    /// Odd lengths around a tile, both head sizes, grouped-query heads and Lq ≠ Lk.
    static let all = [AttentionShape(batch: 1, queryHeads: 2, keyHeads: 2, queryLength: 17, keyLength: 17, headSize: 16),
                      AttentionShape(batch: 2, queryHeads: 4, keyHeads: 2, queryLength: 33, keyLength: 33, headSize: 64),
                      AttentionShape(batch: 1, queryHeads: 3, keyHeads: 1, queryLength: 17, keyLength: 33, headSize: 64)]
}

extension ParityCase {
    /// Softmax and sigmoid attention, causal or not, forward and backward, on every shape
    /// and dtype; inputs in [−1, 1), the default scale 1/√D.
    static var attentionCases: [ParityCase] {
        var cases: [ParityCase] = []
        for dtype in parityDTypes {
            for shape in AttentionShape.all {
                for activation in [AttentionActivation.softmax, .sigmoid()] {
                    for causal in [false, true] {
                        cases.append(attention(activation, causal: causal, dtype, shape, backward: false))
                        cases.append(attention(activation, causal: causal, dtype, shape, backward: true))
                    }
                }
            }
        }
        return cases
    }

    /// O sums Lk products of P and V (each score D products); the gradients sum Lq or Lk
    /// rows of D-term products.
    static func attention(_ activation: AttentionActivation, causal: Bool, _ dtype: DType, _ shape: AttentionShape,
                          backward: Bool) -> ParityCase {
        let variant = "\(activation)" + (causal ? ", causal" : "")
            + (shape.queryHeads != shape.keyHeads ? ", GQA \(shape.queryHeads)/\(shape.keyHeads)" : "")
        let terms = shape.headSize + max(shape.queryLength, shape.keyLength)
        let size = (shape.query + [shape.keyLength]).reduce(1, *)
        return ParityCase(backward ? "attention-backward" : "attention", variant, dtype, shape: shape.label,
                          size: size) { engine in
            let count = { (extents: [Int]) in extents.reduce(1, *) }
            let q = try engine.parityTensor(parityValues(count(shape.query), seed: 40, range: 1), shape.query, dtype)
            let k = try engine.parityTensor(parityValues(count(shape.key), seed: 41, range: 1), shape.key, dtype)
            let v = try engine.parityTensor(parityValues(count(shape.key), seed: 42, range: 1), shape.key, dtype)
            let options = AttentionOptions(causal: causal)
            let forward = try engine.attention(q, k, v, activation: activation, options: options)
            let tolerance = { (values: [Float], dtype: DType) in
                Tolerance.reduction(dtype, terms: terms, magnitude: maxMagnitude(values))
            }
            guard backward else {
                let output = try forward.output.floats
                var outputs: [ParityOutput] = [.floats("O", output, tolerance(output, dtype))]
                if let lse = try forward.logSumExp?.floats { outputs.append(.floats("lse", lse, tolerance(lse, .float32))) }
                return outputs
            }
            let dO = try engine.parityTensor(parityValues(count(shape.query), seed: 43, range: 1), shape.query, dtype)
            let gradients = try engine.attentionBackward(q, k, v, forward: forward, gradient: dO, activation: activation,
                                                         options: options)
            return try [("dQ", gradients.query), ("dK", gradients.key), ("dV", gradients.value)].map { name, tensor in
                let values = try tensor.floats
                return .floats(name, values, tolerance(values, dtype))
            }
        }
    }
}
