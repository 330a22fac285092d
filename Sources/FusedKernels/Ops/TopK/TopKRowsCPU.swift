import Foundation

/// CPU top-k per row: the k largest values, ties to the lower index, ordered by value
/// descending. With `softmax`, of z = scale·x and reported as softmax probabilities
/// e^(z−m)/d (statistics from `SoftmaxRowsCPU`, exponentials in Double). A row
/// holding NaN (or +inf) gives NaN values and index −1; an all −inf row gives 0 at
/// indices 0..<k.
enum TopKRowsCPU {
    static func topK(_ x: UnsafePointer<Float>, shape: Shape, k: Int, scale: Float, softmax: Bool,
                     values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>) {
        let (rows, cols) = (shape.rows, shape.cols)
        var maxima = [Float](repeating: 0, count: rows)
        var sums = [Float](repeating: 1, count: rows)
        if softmax {
            let noMasks = SoftmaxRowsCPU.Masks(additive: nil, additiveStride: 0, keep: nil, keepStride: 0)
            SoftmaxRowsCPU.statistics(x, max: &maxima, sum: &sums, shape: shape, scale: scale, masks: noMasks)
        }
        let shared = UncheckedSendable((values, indices))
        maxima.withUnsafeBufferPointer { maxima in
            sums.withUnsafeBufferPointer { sums in
                parallelRows(rows, cols: cols) { range in
                    let (values, indices) = shared.value
                    var best: [(value: Float, index: Int)] = []
                    best.reserveCapacity(k + 1)
                    for row in range {
                        let z = x + row * cols
                        let factor = softmax ? scale : 1
                        let hasNaN = (0 ..< cols).contains { (factor * z[$0]).isNaN || (softmax && z[$0] * factor == .infinity) }
                        let out = row * k
                        if hasNaN || (softmax && sums[row].isNaN) {
                            for j in 0 ..< k { values[out + j] = .nan; indices[out + j] = -1 }
                            continue
                        }
                        best.removeAll(keepingCapacity: true)
                        for col in 0 ..< cols {
                            let v = factor * z[col]
                            // Strictly greater: an equal value never displaces a lower index.
                            guard best.count < k || v > best[k - 1].value else { continue }
                            var position = best.count
                            while position > 0 && v > best[position - 1].value { position -= 1 }
                            best.insert((v, col), at: position)
                            if best.count > k { best.removeLast() }
                        }
                        for (j, entry) in best.enumerated() {
                            indices[out + j] = Int32(entry.index)
                            if !softmax {
                                values[out + j] = entry.value
                            } else if maxima[row] == -.infinity {
                                values[out + j] = 0
                            } else {
                                values[out + j] = Float(Foundation.exp(Double(entry.value) - Double(maxima[row]))
                                    / Double(sums[row]))
                            }
                        }
                    }
                }
            }
        }
    }
}
