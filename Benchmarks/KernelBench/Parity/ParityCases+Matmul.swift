import FusedKernels

extension ParityCase {
    /// matmul (shape [batch,] m, k, n): each transpose, α and β into an existing C, a batch (and one with B shared
    /// by the batch), and fp16/bf16 operands into an fp32 C; inputs in [−1, 1).
    static var matmulCases: [ParityCase] {
        var cases: [ParityCase] = []
        for dtype in parityDTypes {
            for (m, k, n) in [(7, 33, 17), (33, 129, 65)] {
                for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
                    cases.append(matmul(dtype, m, k, n, transposeA: transposeA, transposeB: transposeB))
                }
                cases.append(matmul(dtype, m, k, n, alpha: 1.5, beta: 0.5))
                cases.append(matmul(dtype, m, k, n, batch: 3))
                cases.append(matmul(dtype, m, k, n, batch: 3, sharedB: true))
                if dtype != .float32 { cases.append(matmul(dtype, m, k, n, alpha: 1.5, beta: 0.5, fp32Output: true)) }
            }
        }
        return cases
    }

    static func matmul(_ dtype: DType, _ m: Int, _ k: Int, _ n: Int, transposeA: Bool = false, transposeB: Bool = false,
                       alpha: Float = 1, beta: Float = 0, batch: Int? = nil, sharedB: Bool = false,
                       fp32Output: Bool = false) -> ParityCase {
        let aShape = (batch.map { [$0] } ?? []) + (transposeA ? [k, m] : [m, k])
        let bShape = (batch.map { sharedB ? [] : [$0] } ?? []) + (transposeB ? [n, k] : [k, n])
        let cShape = (batch.map { [$0] } ?? []) + [m, n]
        var variant = [transposeA ? "Aᵀ" : "A", transposeB ? "Bᵀ" : "B"].joined(separator: "·")
        if alpha != 1 || beta != 0 { variant += ", alpha \(alpha), beta \(beta)" }
        if let batch { variant += ", batch \(batch)" + (sharedB ? " (B shared)" : "") }
        if fp32Output { variant += ", fp32 C" }
        let outputDType = fp32Output ? DType.float32 : dtype
        let size = [aShape, bShape, cShape].map { $0.reduce(1, *) }.max()!
        return ParityCase("matmul", variant, dtype, shape: (batch.map { [$0] } ?? []) + [m, k, n], size: size) { engine in
            let a = try engine.parityTensor(parityValues(aShape.reduce(1, *), seed: 11, range: 1), aShape, dtype)
            let b = try engine.parityTensor(parityValues(bShape.reduce(1, *), seed: 12, range: 1), bShape, dtype)
            let c = try engine.parityTensor(parityValues(cShape.reduce(1, *), seed: 13, range: 1), cShape, outputDType)
            try engine.matmul(a, b, into: c, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta)
            let values = try c.floats
            return [.floats("c", values, .reduction(outputDType, terms: k, magnitude: maxMagnitude(values)))]
        }
    }
}
