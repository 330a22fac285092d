/// The k largest entries of each row over the last axis: `values` (the input's dtype)
/// ordered descending, ties to the lower column index, and their column `indices`
/// (int32); both of the input's shape with the last extent k.
public struct TopK: Sendable {
    /// The k values of each row, largest first: probabilities for
    /// ``Engine/softmaxTopK(_:k:scale:preset:)``, the input's values for ``Engine/topK(_:k:preset:)``.
    public let values: Tensor
    /// The column of each value in its row (int32); −1 throughout a row holding NaN (or
    /// +∞, for the softmax top-k).
    public let indices: Tensor
}

/// Fused softmax + top-k (Milakov & Gimelshein): the k most probable entries of each
/// row of softmax(scale·x) from one read of x, and a plain top-k of any tensor (the
/// second half of the unfused baseline). A row holding NaN or +inf gives NaN values
/// and index −1; an all −inf row gives probability 0 at indices 0..<k.
extension Engine {
    /// The largest k the kernels are built for.
    public static let maxTopK = 256

    /// The k most probable entries of each row of softmax(scale·x), from one read of x:
    /// the probabilities (x's dtype) and their columns.
    ///
    /// - Parameters:
    ///   - x: a floating tensor of this engine, rank 1–4.
    ///   - k: 1...``maxTopK``, at most the last extent.
    ///   - scale: multiplies x (1 / temperature); must be finite.
    ///   - preset: the kernels' shape on OpenCL (a work-item per rows, or a work-group per
    ///     row); `auto` is the device type's. Ignored on the CPU path.
    /// - Throws: ``FusedKernelsError/invalidArgument(argument:reason:)`` for `k` out of
    ///   range or a non-finite scale; other ``FusedKernelsError``s for a bad `x`.
    public func softmaxTopK(_ x: Tensor, k: Int, scale: Float = 1, preset: KernelPreset = .auto) throws -> TopK {
        try runTopK(x, k: k, scale: scale, softmax: true, preset: preset)
    }

    /// The k largest values of each row of `x` (no softmax), with their columns.
    /// A row holding NaN gives NaN values and index −1. `preset` as for
    /// ``softmaxTopK(_:k:scale:preset:)``.
    public func topK(_ x: Tensor, k: Int, preset: KernelPreset = .auto) throws -> TopK {
        try runTopK(x, k: k, scale: 1, softmax: false, preset: preset)
    }

    private func runTopK(_ x: Tensor, k: Int, scale: Float, softmax: Bool, preset: KernelPreset) throws -> TopK {
        let call = try TopKCall(x, k: k, scale: scale, softmax: softmax, preset: preset, engine: self)
        let result = TopK(values: try empty(shape: call.outputShape, dtype: x.dtype),
                          indices: try empty(shape: call.outputShape, dtype: .int32))
        _ = try dispatch(softmax ? "softmaxTopK" : "topK", openCL: { context in
            try encodeTopK(call, into: result, on: context)
        }, cpu: {
            let shape = call.shape
            var values = [Float](repeating: 0, count: shape.rows * k)
            var indices = [Int32](repeating: 0, count: shape.rows * k)
            try x.withHostFloats { x in
                TopKRowsCPU.topK(x, shape: shape, k: k, scale: scale, softmax: softmax, values: &values, indices: &indices)
            }
            try result.values.store(values)
            try result.indices.storeElements(indices)
        })
        return result
    }
}
