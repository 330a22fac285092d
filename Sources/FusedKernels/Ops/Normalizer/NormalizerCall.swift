/// A checked normalizer op: the per-row (m, d) statistics of z = scale·x + mask, or the
/// log-sum-exp backward dx = scale · dlse[row] · softmax(z) (`gradient` is dlse, float32 of
/// the log-sum-exp's shape).
struct NormalizerCall {
    /// The forward it runs: the statistics output, or softmax for the backward.
    let softmax: SoftmaxCall
    /// dlse, for the backward.
    let gradient: Tensor?

    init(statisticsOf x: Tensor, options: SoftmaxOptions, engine: Engine) throws {
        softmax = try SoftmaxCall(x, output: .statistics, options: options, engine: engine)
        gradient = nil
    }

    init(logSumExpBackwardOf x: Tensor, gradient dlse: Tensor, options: SoftmaxOptions, engine: Engine) throws {
        softmax = try SoftmaxCall(x, output: .softmax, options: options, engine: engine)
        try engine.checkOwner(dlse, "gradient")
        let expected = SoftmaxKind.logSumExp.outputShape(x.shape)
        guard dlse.shape == expected else {
            throw FusedKernelsError.shapeMismatch(argument: "gradient", expected: expected, actual: dlse.shape)
        }
        guard dlse.dtype == .float32 else {
            throw FusedKernelsError.dtypeMismatch(argument: "gradient", expected: .float32, actual: dlse.dtype)
        }
        gradient = dlse
    }
}
