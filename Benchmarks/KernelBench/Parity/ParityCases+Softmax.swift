import Foundation
import FusedKernels

/// The masks and scale a softmax-family case runs with.
enum SoftmaxMasking: String, CaseIterable {
    /// scale 1, no mask.
    case plain
    /// scale 0.7 and an additive `[cols]` mask (every 7th column −∞, others in [−1, 1)).
    case scaledAdditive = "scale0.7+additive"
    /// A bool `[rows, cols]` keep mask, row 1 fully masked (its output is zeros, −∞ LSE).
    case keepMask = "keep-mask"

    var scale: Float { self == .scaledAdditive ? 0.7 : 1 }

    /// The options on `engine` for x of `rows` × `cols`.
    func options(_ rows: Int, _ cols: Int, variant: SoftmaxVariant = .auto, on engine: Engine) throws -> SoftmaxOptions {
        switch self {
        case .plain:
            return SoftmaxOptions(variant: variant)
        case .scaledAdditive:
            let mask = parityValues(cols, seed: 7, range: 1).enumerated().map { $0 % 7 == 3 ? -Float.infinity : $1 }
            return SoftmaxOptions(scale: scale, additiveMask: try engine.parityTensor(mask, [cols]), variant: variant)
        case .keepMask:
            let keep = parityValues(rows * cols, seed: 8).enumerated().map { index, value in
                index / cols != 1 && (value > -1 || index % cols == 0)
            }
            return SoftmaxOptions(keepMask: try engine.tensor(keep, shape: [rows, cols]), variant: variant)
        }
    }
}

/// Probabilities: the storage type's rounding plus the sum's (its order differs between
/// kernels, 2⁻²²·√cols relative), and a floor at fp16's subnormal spacing.
func probabilityTolerance(_ dtype: DType, cols: Int) -> Tolerance {
    Tolerance(atol: dtype == .float16 ? 0x1p-24 : 1e-30, rtol: Tolerance.storage(dtype) + 0x1p-22 * Double(cols).squareRoot())
}

/// Log-domain outputs (log-softmax, log-sum-exp): z − m − log d loses fp32 precision
/// relative to |z| (≤ 8·scale for these inputs) and the log of the sum, absolutely.
func logTolerance(_ dtype: DType, cols: Int) -> Tolerance {
    Tolerance(atol: 0x1p-20 * (8 + Double(cols).squareRoot()), rtol: Tolerance.storage(dtype))
}

func softmaxTolerance(_ kind: SoftmaxKind, _ dtype: DType, cols: Int) -> Tolerance {
    kind == .softmax ? probabilityTolerance(dtype, cols: cols) : logTolerance(dtype, cols: cols)
}

/// Row shapes: one column, odd ones, past a vector and a work-group, past the block
/// variant's threshold (`blockMaxColumns` + 1), and one long row for the column shards.
let softmaxShapes: [[Int]] = [[3, 1], [7, 17], [3, 255], [7, 1000], [3, 4097]]
let longRow = [1, 70001]

extension ParityCase {
    static var softmaxCases: [ParityCase] {
        var cases: [ParityCase] = []
        // Every variant of softmax and log-softmax, unmasked, in fp32; the storage types with
        // `auto` (the variants share their loads and stores: each is a program to build).
        for kind in [SoftmaxKind.softmax, .logSoftmax] {
            for variant in SoftmaxVariant.allCases {
                for dtype in variant == .auto ? parityDTypes : [.float32] {
                    for shape in softmaxShapes + [[2, SoftmaxVariant.blockMaxColumns + 1]] {
                        cases.append(softmaxForward(kind, variant: variant, .plain, dtype, shape))
                    }
                }
            }
            cases.append(softmaxForward(kind, variant: .auto, .plain, .float32, longRow))
            cases.append(softmaxForward(kind, variant: .split, .plain, .bfloat16, longRow))
        }
        // Log-sum-exp unmasked, and every kind with each mask.
        for dtype in parityDTypes {
            for shape in softmaxShapes { cases.append(softmaxForward(.logSumExp, variant: .auto, .plain, dtype, shape)) }
            cases.append(softmaxForward(.logSumExp, variant: .auto, .plain, dtype, longRow))
            for kind in SoftmaxKind.allCases {
                for masking in [SoftmaxMasking.scaledAdditive, .keepMask] {
                    for shape in [[3, 17], [7, 1000], [3, 4097]] {
                        cases.append(softmaxForward(kind, variant: .auto, masking, dtype, shape))
                    }
                }
            }
        }
        // Backward of softmax and log-softmax, with scale 1 and a scale ≠ 1.
        for kind in [SoftmaxKind.softmax, .logSoftmax] {
            for dtype in parityDTypes {
                for shape in [[3, 1], [7, 17], [7, 1000], [3, 4097]] {
                    for scale: Float in [1, 0.7] { cases.append(softmaxBackward(kind, dtype, shape, scale: scale)) }
                }
            }
        }
        return cases
    }

    static func softmaxForward(_ kind: SoftmaxKind, variant: SoftmaxVariant, _ masking: SoftmaxMasking,
                               _ dtype: DType, _ shape: [Int]) -> ParityCase {
        let (rows, cols) = (shape[0], shape[1])
        let label = kind == .logSumExp ? masking.rawValue : "\(variant.rawValue), \(masking.rawValue)"
        return ParityCase(kind.rawValue, label, dtype, shape: shape) { engine in
            let x = try engine.parityTensor(parityValues(rows * cols, seed: 1, range: 8), shape, dtype)
            let options = try masking.options(rows, cols, variant: variant, on: engine)
            let y = try engine.softmax(x, kind: kind, options: options)
            return [.floats("y", try y.floats, softmaxTolerance(kind, dtype, cols: cols))]
        }
    }

    /// dy in [−2, 2); y a softmax-like row (positive, ~1/cols) or log-probabilities.
    static func softmaxBackward(_ kind: SoftmaxKind, _ dtype: DType, _ shape: [Int], scale: Float) -> ParityCase {
        let (rows, cols) = (shape[0], shape[1])
        let name = kind == .softmax ? "softmax-backward" : "logSoftmax-backward"
        return ParityCase(name, "scale \(scale)", dtype, shape: shape) { engine in
            let noise = parityValues(rows * cols, seed: 2, range: 1)
            let yValues = kind == .softmax ? noise.map { (1.5 + $0) / Float(cols) }
                : noise.map { $0 - 1 - log(Float(cols)) }
            let y = try engine.parityTensor(yValues, shape, dtype)
            let dy = try engine.parityTensor(parityValues(rows * cols, seed: 3), shape, dtype)
            let dx = try engine.softmaxBackward(output: y, gradient: dy, kind: kind, scale: scale)
            let values = try dx.floats
            return [.floats("dx", values, .reduction(dtype, terms: cols, magnitude: maxMagnitude(values)))]
        }
    }
}
