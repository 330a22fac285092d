import ArgumentParser
import FusedKernels

/// One check: an op with its options on one dtype and shape, run the same way on a device
/// engine and on the CPU path (`run` builds its tensors from the same host data on the
/// engine it is given) and compared output by output.
struct ParityCase {
    /// The op as records name it: softmax, matmul, attention-backward…
    let op: String
    /// The options that distinguish cases of one op: variant, masks, k, transposes…
    let variant: String
    let dtype: DType
    let shape: [Int]
    /// Elements of the largest tensor the case touches: what a simulator's time grows with.
    let size: Int
    let run: (Engine) throws -> [ParityOutput]

    init(_ op: String, _ variant: String, _ dtype: DType, shape: [Int], size: Int? = nil,
         run: @escaping (Engine) throws -> [ParityOutput]) {
        (self.op, self.variant, self.dtype, self.shape) = (op, variant, dtype, shape)
        self.size = size ?? shape.reduce(1, *)
        self.run = run
    }

    /// Every case, family by family (the order of the report).
    static var all: [ParityCase] {
        softmaxCases + normalizerCases + topKCases + matmulCases + crossEntropyCases + attentionCases + copyCases
    }

    /// The cases of the comma-separated `ops` (every case when nil); an unknown name is
    /// an error that lists the known ones.
    static func selected(_ ops: String?) throws -> [ParityCase] {
        let cases = all
        guard let ops else { return cases }
        let names = Set(ops.split(separator: ",").map { String($0) })
        let known = Set(cases.map(\.op))
        if let unknown = names.subtracting(known).sorted().first {
            throw ValidationError("--ops: no op named \(unknown); the ops are \(known.sorted().joined(separator: ", "))")
        }
        return cases.filter { names.contains($0.op) }
    }

    static let quickCasesPerOp = 4

    /// `cases` cut to float32 and the first ``quickCasesPerOp`` of each op, in order.
    static func quick(_ cases: [ParityCase]) -> [ParityCase] {
        var kept: [String: Int] = [:]
        return cases.filter { item in
            guard item.dtype == .float32, kept[item.op, default: 0] < quickCasesPerOp else { return false }
            kept[item.op, default: 0] += 1
            return true
        }
    }
}

/// The dtypes every floating op takes.
let parityDTypes: [DType] = [.float32, .float16, .bfloat16]

/// Deterministic values in [−range, range): `benchmarkInput` scaled, one stream per seed.
func parityValues(_ count: Int, seed: UInt64, range: Float = 2) -> [Float] {
    benchmarkInput(count: count, seed: 0x9E37_79B9_7F4A_7C15 &+ seed &* 0x2545_F491_4F6C_DD1D).map { $0 * range / 8 }
}

extension Engine {
    /// `values` stored as `dtype` (rounded to nearest even), in a new tensor of `shape`.
    func parityTensor(_ values: [Float], _ shape: [Int], _ dtype: DType = .float32) throws -> Tensor {
        switch dtype {
        case .float16: return try tensor(values.map { Float16($0) }, shape: shape)
        case .bfloat16: return try tensor(values.map(BFloat16.init), shape: shape)
        default: return try tensor(values, shape: shape)
        }
    }
}

extension Tensor {
    /// The elements widened to Float, for comparison.
    var floats: [Float] { get throws { try array(of: Float.self) } }
}

/// The largest |value| (0 for none), the magnitude a reduction's absolute tolerance scales with.
func maxMagnitude(_ values: [Float]) -> Double {
    Double(values.lazy.filter(\.isFinite).map(abs).max() ?? 0)
}
