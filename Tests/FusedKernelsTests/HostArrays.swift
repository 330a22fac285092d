import Foundation
@testable import FusedKernels

/// The tests' shorthand for host arrays: each call builds tensors with `Engine.tensor`,
/// runs the tensor op, and reads the result back with `Tensor.array(of:)`, so every
/// test exercises the public tensor API underneath.

/// Softmax options with masks as host arrays, `[cols]` (every row) or `[rows, cols]`.
struct HostOptions {
    var scale: Float = 1
    var additiveMask: [Float]?
    var keepMask: [Bool]?
    var variant: SoftmaxVariant = .auto

    func tensors(on engine: Engine, _ shape: Shape) throws -> SoftmaxOptions {
        let maskShape = { (count: Int) in count == shape.cols ? [shape.cols] : [shape.rows, shape.cols] }
        return SoftmaxOptions(scale: scale,
                              additiveMask: try additiveMask.map { try engine.tensor($0, shape: maskShape($0.count)) },
                              keepMask: try keepMask.map { try engine.tensor($0, shape: maskShape($0.count)) },
                              variant: variant)
    }
}

/// Top-k results on the host.
struct HostTopK<T> {
    var values: [T]
    var indices: [Int32]
}

extension Shape {
    var dims: [Int] { [rows, cols] }
}

extension Engine {
    func tensor<T: TensorElement>(_ values: [T], shape: Shape) throws -> Tensor {
        try tensor(values, shape: shape.dims)
    }

    func softmax<T: FloatingTensorElement>(_ x: [T], shape: Shape, kind: SoftmaxKind = .softmax,
                                           options: HostOptions = HostOptions()) throws -> [T] {
        try softmax(try tensor(x, shape: shape), kind: kind, options: try options.tensors(on: self, shape)).array(of: T.self)
    }

    /// Forward into a tensor pre-filled with `y`'s values (poison, in the tests), read
    /// back into `y` whether or not the call throws; returns where it ran.
    func softmax<T: FloatingTensorElement>(_ x: [T], shape: Shape, into y: inout [T], kind: SoftmaxKind = .softmax,
                                           options: HostOptions = HostOptions()) throws -> Backend {
        let outputShape = kind == .logSumExp ? [shape.rows, 1] : shape.dims
        let output = try tensor(y, shape: y.count == outputShape.reduce(1, *) ? outputShape : [y.count])
        defer { if let values = try? output.array(of: T.self) { y = values } }
        return try softmax(try tensor(x, shape: shape), into: output, kind: kind, options: try options.tensors(on: self, shape))
    }

    func softmaxBackward<T: FloatingTensorElement>(output y: [T], gradient dy: [T], shape: Shape,
                                                   kind: SoftmaxKind = .softmax, scale: Float = 1) throws -> [T] {
        try softmaxBackward(output: try tensor(y, shape: shape), gradient: try tensor(dy, shape: shape), kind: kind,
                            scale: scale).array(of: T.self)
    }

    func normalizer<T: FloatingTensorElement>(_ x: [T], shape: Shape,
                                              options: HostOptions = HostOptions()) throws -> NormalizerStatistics {
        try normalizer(try tensor(x, shape: shape), options: try options.tensors(on: self, shape))
    }

    func logSumExpBackward<T: FloatingTensorElement>(_ x: [T], shape: Shape, gradient: [Float],
                                                     options: HostOptions = HostOptions()) throws -> [T] {
        try logSumExpBackward(try tensor(x, shape: shape), gradient: try tensor(gradient, shape: [gradient.count, 1]),
                              options: try options.tensors(on: self, shape)).array(of: T.self)
    }

    func softmaxTopK<T: FloatingTensorElement>(_ x: [T], shape: Shape, k: Int, scale: Float = 1) throws -> HostTopK<T> {
        try host(try softmaxTopK(try tensor(x, shape: shape), k: k, scale: scale))
    }

    func topK<T: FloatingTensorElement>(_ x: [T], shape: Shape, k: Int) throws -> HostTopK<T> {
        try host(try topK(try tensor(x, shape: shape), k: k))
    }

    func host<T: FloatingTensorElement>(_ result: TopK) throws -> HostTopK<T> {
        HostTopK(values: try result.values.array(of: T.self), indices: try result.indices.array(of: Int32.self))
    }
}

extension Tensor {
    func toArray() throws -> [Float] { try array(of: Float.self) }
}
