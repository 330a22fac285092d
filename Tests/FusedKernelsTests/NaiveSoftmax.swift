import Foundation
@testable import FusedKernels

/// The textbook softmax family in Double, one element at a time: the yardstick the
/// CPU SIMD reference and every device are measured against.
enum NaiveSoftmax {
    static func logits(_ x: [Float], shape: Shape, options: HostOptions) -> [[Double]] {
        (0 ..< shape.rows).map { row in
            (0 ..< shape.cols).map { col in
                let i = row * shape.cols + col
                var z = Double(options.scale) * Double(x[i])
                if let add = options.additiveMask { z += Double(add[add.count == shape.cols ? col : i]) }
                if let keep = options.keepMask, !keep[keep.count == shape.cols ? col : i] { z = -.infinity }
                return z
            }
        }
    }

    static func forward(_ x: [Float], shape: Shape, kind: SoftmaxKind, options: HostOptions = .init()) -> [Double] {
        logits(x, shape: shape, options: options).flatMap { z -> [Double] in
            let finite = z.filter { !$0.isNaN }
            let m = finite.max() ?? -.infinity
            let hasNaN = z.contains { $0.isNaN }
            if m == -.infinity && !hasNaN {
                switch kind {
                case .softmax: return [Double](repeating: 0, count: z.count)
                case .logSoftmax: return [Double](repeating: -.infinity, count: z.count)
                case .logSumExp: return [-.infinity]
                }
            }
            let sum = z.reduce(0.0) { $0 + exp($1 - m) }
            // log(sum) as log1p of the sum without one unit term of the maximum (its
            // other occurrences count): accurate to ~1e-16 relative even when sum ≈ 1.
            let tops = Double(z.filter { $0 == m }.count)
            let rest = z.reduce(0.0) { $0 + ($1 == m ? 0 : exp($1 - m)) } + (tops - 1)
            let logSum = sum.isNaN ? sum : log1p(rest)
            switch kind {
            case .softmax: return z.map { exp($0 - m) / sum }
            case .logSoftmax: return z.map { ($0 - m) - logSum }
            case .logSumExp: return [m + logSum]
            }
        }
    }

    static func backward(y: [Float], dy: [Float], shape: Shape, kind: SoftmaxKind, scale: Float) -> [Double] {
        (0 ..< shape.rows).flatMap { row -> [Double] in
            let range = row * shape.cols ..< (row + 1) * shape.cols
            let (y, dy) = (y[range].map(Double.init), dy[range].map(Double.init))
            let s = Double(scale)
            if kind == .logSoftmax {
                let total = dy.reduce(0, +)
                return zip(y, dy).map { $0 == -.infinity ? 0 : s * ($1 - exp($0) * total) }
            }
            let dot = zip(y, dy).reduce(0.0) { $0 + $1.0 * $1.1 }
            return zip(y, dy).map { s * $0 * ($1 - dot) }
        }
    }
}
