/// What a softmax-family forward writes per row: the public ``SoftmaxKind``s, or the
/// online normalizer's (m, d) statistics. Its raw value is the kernels' `OUTPUT_MODE`
/// (`Kernels/softmax/output.h` names the same four, `FK_OUTPUT_*`).
enum SoftmaxOutput: Int, Equatable, Sendable {
    case softmax = 0
    case logSoftmax = 1
    case logSumExp = 2
    /// One (m, d) pair of floats per row (``Engine/normalizer(_:options:)``).
    case statistics = 3

    init(_ kind: SoftmaxKind) {
        switch kind {
        case .softmax: self = .softmax
        case .logSoftmax: self = .logSoftmax
        case .logSumExp: self = .logSumExp
        }
    }

    /// One value (or pair) per row rather than x's shape.
    var isPerRow: Bool { self == .logSumExp || self == .statistics }
}
