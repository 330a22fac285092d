/// A checked top-k or fused softmax + top-k: x a floating tensor of the engine, k in
/// 1...``Engine/maxTopK`` and at most the row length, a finite scale.
struct TopKCall {
    let x: Tensor
    let k: Int
    let scale: Float
    /// Softmax probabilities of scale·x (fused softmax + top-k), or x's own values.
    let softmax: Bool
    let preset: KernelPreset
    /// x's rows (leading axes flattened) and row length.
    let shape: Shape

    init(_ x: Tensor, k: Int, scale: Float, softmax: Bool, preset: KernelPreset, engine: Engine) throws {
        try engine.checkFloatingInput(x, "x")
        let cols = x.shape[x.rank - 1]
        guard (1 ... Engine.maxTopK).contains(k) else {
            throw FusedKernelsError.invalidArgument(argument: "k", reason: "must be in 1...\(Engine.maxTopK), got \(k)")
        }
        guard k <= cols else {
            throw FusedKernelsError.invalidArgument(argument: "k", reason: "\(k) exceeds the row length \(cols)")
        }
        try engine.checkFinite(scale, "scale")
        self.x = x
        self.k = k
        self.scale = scale
        self.softmax = softmax
        self.preset = preset
        shape = Shape(rows: x.count / cols, cols: cols)
    }

    /// x's shape with the last extent k: the values' and the indices'.
    var outputShape: [Int] { Array(x.shape.dropLast()) + [k] }
}
