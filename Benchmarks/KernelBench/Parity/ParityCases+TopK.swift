import FusedKernels

extension ParityCase {
    /// topK and softmaxTopK for k = 1, 5, 17 on rows whose top 18 values are distinct, so
    /// that the columns are one answer: indices must match exactly.
    static var topKCases: [ParityCase] {
        var cases: [ParityCase] = []
        for softmax in [false, true] {
            for dtype in parityDTypes {
                for shape in [[7, 17], [3, 255], [7, 1000], [3, 4097], longRow] {
                    for k in [1, 5, 17] { cases.append(topK(softmax: softmax, k: k, dtype, shape)) }
                }
            }
        }
        return cases
    }

    static func topK(softmax: Bool, k: Int, _ dtype: DType, _ shape: [Int]) -> ParityCase {
        let (rows, cols) = (shape[0], shape[1])
        let scale: Float = softmax ? 0.7 : 1
        return ParityCase(softmax ? "softmaxTopK" : "topK", softmax ? "k \(k), scale \(scale)" : "k \(k)", dtype,
                          shape: shape) { engine in
            let x = try engine.parityTensor(distinctTopRows(rows, cols, seed: UInt64(k)), shape, dtype)
            let result = softmax ? try engine.softmaxTopK(x, k: k, scale: scale) : try engine.topK(x, k: k)
            let tolerance = softmax ? probabilityTolerance(dtype, cols: cols) : .exact
            return [.floats("values", try result.values.floats, tolerance),
                    .indices("indices", try result.indices.array(of: Int32.self))]
        }
    }
}

/// Rows of noise in [−4, 0) with the values 0.25·(1…18) (exact in every dtype) planted in
/// distinct pseudo-random columns: the top 18 of each row are distinct and above the noise.
func distinctTopRows(_ rows: Int, _ cols: Int, seed: UInt64) -> [Float] {
    var values = parityValues(rows * cols, seed: 10 + seed).map { $0 - 2 }
    let order = parityValues(rows * cols, seed: 20 + seed)
    for row in 0 ..< rows {
        let columns = (0 ..< cols).sorted { order[row * cols + $0] < order[row * cols + $1] }
        for (rank, column) in columns.prefix(18).enumerated() { values[row * cols + column] = 0.25 * Float(rank + 1) }
    }
    return values
}
