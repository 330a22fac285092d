/// The k largest entries of each row: values ordered descending (ties to the lower
/// column index) and their column indices, `[rows, k]` row-major.
public struct TopK<T: StorageElement>: Sendable {
    public let k: Int
    public var values: [T]
    public var indices: [Int32]
}

/// Fused softmax + top-k (Milakov & Gimelshein): the k most probable entries of each
/// row of softmax(scale·x) from one read of x, and a plain top-k of any matrix (the
/// second half of the unfused baseline). A row holding NaN or +inf gives NaN values
/// and index −1; an all −inf row gives probability 0 at indices 0..<k.
extension Engine {
    /// The largest k the kernels are built for.
    public static let maxTopK = 256

    public func softmaxTopK<T: StorageElement>(_ x: [T], shape: Shape, k: Int, scale: Float = 1) throws -> TopK<T> {
        try shape.validate("x")
        try expectCount(x.count, shape.count, "x")
        try validateTopK(k: k, shape: shape, scale: scale)
        return try topKOnHost(x, shape: shape, k: k, scale: scale, softmax: true)
    }

    public func softmaxTopK(_ x: DeviceTensor, k: Int, scale: Float = 1) throws -> TopK<Float> {
        try checkOwner(x, "x")
        try validateTopK(k: k, shape: x.shape, scale: scale)
        return try topKOfTensor(x, k: k, scale: scale, softmax: true)
    }

    /// The k largest values of each row of `x` (no softmax).
    public func topK<T: StorageElement>(_ x: [T], shape: Shape, k: Int) throws -> TopK<T> {
        try shape.validate("x")
        try expectCount(x.count, shape.count, "x")
        try validateTopK(k: k, shape: shape, scale: 1)
        return try topKOnHost(x, shape: shape, k: k, scale: 1, softmax: false)
    }

    public func topK(_ x: DeviceTensor, k: Int) throws -> TopK<Float> {
        try checkOwner(x, "x")
        try validateTopK(k: k, shape: x.shape, scale: 1)
        return try topKOfTensor(x, k: k, scale: 1, softmax: false)
    }

    private func validateTopK(k: Int, shape: Shape, scale: Float) throws {
        guard (1 ... Engine.maxTopK).contains(k) else {
            throw FusedKernelsError.invalidArgument(argument: "k", reason: "must be in 1...\(Engine.maxTopK), got \(k)")
        }
        guard k <= shape.cols else {
            throw FusedKernelsError.invalidArgument(argument: "k", reason: "\(k) exceeds the row length \(shape.cols)")
        }
        guard scale.isFinite else {
            throw FusedKernelsError.invalidArgument(argument: "scale", reason: "must be finite, got \(scale)")
        }
    }

    private func topKOnHost<T: StorageElement>(_ x: [T], shape: Shape, k: Int, scale: Float,
                                               softmax: Bool) throws -> TopK<T> {
        let count = shape.rows * k
        return try dispatch(softmax ? "softmaxTopK" : "topK", openCL: { context in
            let input = try x.withUnsafeBufferPointer { try context.makeBuffer($0) }
            let (values, indices) = try launchTopK(input, shape: shape, dtype: T.dtype, k: k, scale: scale,
                                                   softmax: softmax, on: context)
            return TopK(k: k, values: try values.readArray(count: count), indices: try indices.readArray(count: count))
        }, cpu: {
            let floats = x as? [Float] ?? x.map(\.float)
            let (values, indices) = cpuTopK(floats, shape: shape, k: k, scale: scale, softmax: softmax)
            return TopK(k: k, values: values.map(T.init), indices: indices)
        }).0
    }

    private func topKOfTensor(_ x: DeviceTensor, k: Int, scale: Float, softmax: Bool) throws -> TopK<Float> {
        let count = x.shape.rows * k
        return try dispatch(softmax ? "softmaxTopK" : "topK", openCL: { context in
            let (values, indices) = try launchTopK(x.buffer, shape: x.shape, dtype: x.dtype, k: k, scale: scale,
                                                   softmax: softmax, on: context)
            let floats: [Float]
            switch x.dtype {
            case .float32: floats = try values.readArray(count: count)
            case .float16: floats = try values.readArray(count: count, as: Float16.self).map(\.float)
            case .bfloat16: floats = try values.readArray(count: count, as: BFloat16.self).map(\.float)
            }
            return TopK(k: k, values: floats, indices: try indices.readArray(count: count))
        }, cpu: {
            let (values, indices) = cpuTopK(try x.toArray(), shape: x.shape, k: k, scale: scale, softmax: softmax)
            return TopK(k: k, values: values.map(x.dtype.round), indices: indices)
        }).0
    }

    private func cpuTopK(_ x: [Float], shape: Shape, k: Int, scale: Float, softmax: Bool) -> ([Float], [Int32]) {
        var values = [Float](repeating: 0, count: shape.rows * k)
        var indices = [Int32](repeating: 0, count: shape.rows * k)
        x.withUnsafeBufferPointer { x in
            TopKReference.topK(x.baseAddress!, shape: shape, k: k, scale: scale, softmax: softmax,
                               values: &values, indices: &indices)
        }
        return (values, indices)
    }

}
