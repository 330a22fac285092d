import Foundation

/// A `[rows, cols]` tensor that lives where its engine computes: in a device buffer
/// on OpenCL, in host memory on the CPU path. Ops on device tensors chain without
/// copies to or from the host. Elements are stored as `dtype`.
public final class DeviceTensor: @unchecked Sendable {
    public let shape: Shape
    public let dtype: DType
    let storage: Storage
    /// The engine that made it; ops check that a tensor belongs to them.
    let owner: ObjectIdentifier

    enum Storage {
        /// CPU path: Float values already rounded to `dtype`.
        case host(HostStorage)
        /// OpenCL: `dtype` elements.
        case device(CLBuffer)
    }

    init(shape: Shape, dtype: DType, storage: Storage, owner: Engine) {
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.owner = ObjectIdentifier(owner)
    }

    /// The elements as Float (exact: every storage type widens to fp32 losslessly).
    public func toArray() throws -> [Float] {
        switch (storage, dtype) {
        case let (.host(host), _): return host.values
        case (.device, .float32): return try read(Float.self)
        case (.device, .float16): return try read(Float16.self).map(Float.init)
        case (.device, .bfloat16): return try read(BFloat16.self).map(\.float)
        }
    }

    /// The elements converted to `T` (rounded to nearest even when `T` is narrower).
    public func toArray<T: StorageElement>(as type: T.Type) throws -> [T] {
        if case .device = storage, T.dtype == dtype { return try read(T.self) }
        return try toArray().map(T.init)
    }

    private func read<T: StorageElement>(_ type: T.Type) throws -> [T] {
        try wrapCL { try buffer.readArray(count: shape.count, as: T.self) }
    }

    /// The device buffer; only called on the OpenCL path, where every tensor has one.
    var buffer: CLBuffer {
        guard case let .device(buffer) = storage else { preconditionFailure("host tensor on the OpenCL path") }
        return buffer
    }
}

/// Host memory of a CPU-path tensor (a class so tensors share it without copying).
final class HostStorage {
    var values: [Float]
    init(_ values: [Float]) { self.values = values }
}

extension Engine {
    /// A tensor holding `values` (row-major) on this engine's backend, stored as `T`.
    public func tensor<T: StorageElement>(_ values: [T], shape: Shape) throws -> DeviceTensor {
        try shape.validate("tensor")
        try expectCount(values.count, shape.count, "tensor")
        guard let context else {
            return DeviceTensor(shape: shape, dtype: T.dtype, storage: .host(HostStorage(values.map(\.float))),
                                owner: self)
        }
        let buffer = try wrapCL { try values.withUnsafeBufferPointer { try context.makeBuffer($0) } }
        return DeviceTensor(shape: shape, dtype: T.dtype, storage: .device(buffer), owner: self)
    }

    /// An uninitialised tensor for an op's output.
    func emptyTensor(_ shape: Shape, _ dtype: DType) throws -> DeviceTensor {
        guard let context else {
            let values = [Float](repeating: 0, count: shape.count)
            return DeviceTensor(shape: shape, dtype: dtype, storage: .host(HostStorage(values)), owner: self)
        }
        let buffer = try wrapCL { try context.makeBuffer(bytes: shape.count * dtype.byteCount) }
        return DeviceTensor(shape: shape, dtype: dtype, storage: .device(buffer), owner: self)
    }

    func checkOwner(_ tensor: DeviceTensor, _ argument: String) throws {
        guard tensor.owner == ObjectIdentifier(self) else {
            throw FusedKernelsError.deviceMismatch(argument: argument, tensorDevice: "another engine",
                                                   engineDevice: backend.description)
        }
    }

    /// Checks an output tensor given by the caller: this engine's, not the input,
    /// with the input's dtype and the op's output shape.
    func checkOutput(_ output: DeviceTensor, for input: DeviceTensor, shape: Shape) throws {
        try checkOwner(input, "x")
        try checkOwner(output, "y")
        guard output !== input else {
            throw FusedKernelsError.invalidArgument(argument: "y", reason: "must not be the input tensor")
        }
        guard output.shape == shape else {
            throw FusedKernelsError.shapeMismatch(argument: "y", expected: shape, actual: output.shape)
        }
        guard output.dtype == input.dtype else {
            throw FusedKernelsError.dtypeMismatch(argument: "y", expected: input.dtype, actual: output.dtype)
        }
    }

    /// Runs a CPU computation on tensors wherever they live: on host storage, or
    /// through a download/upload round trip when a kernel fell back on a device.
    func onHost(inputs: [DeviceTensor], output: DeviceTensor,
                _ body: ([UnsafePointer<Float>], UnsafeMutablePointer<Float>) -> Void) throws {
        let hostInputs = try inputs.map { try $0.toArray() }
        if case let .host(host) = output.storage {
            // CPU path: compute straight into the tensor's storage, then round to its dtype.
            withPointers(hostInputs) { pointers in
                host.values.withUnsafeMutableBufferPointer { body(pointers, $0.baseAddress!) }
            }
            if output.dtype != .float32 { host.values = host.values.map(output.dtype.round) }
            return
        }
        let count = output.shape.count
        let result = withPointers(hostInputs) { pointers in
            // Every op writes its whole output, so the array need not be zeroed first.
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                body(pointers, buffer.baseAddress!)
                initialized = count
            }
        }
        let buffer = output.buffer
        try wrapCL {
            switch output.dtype {
            case .float32: try result.withUnsafeBufferPointer { try buffer.write($0) }
            case .float16: try result.map(Float16.init).withUnsafeBufferPointer { try buffer.write($0) }
            case .bfloat16: try result.map(BFloat16.init).withUnsafeBufferPointer { try buffer.write($0) }
            }
        }
    }
}

/// Runs a Float computation on typed host buffers: in place when `T` is Float,
/// through Float copies (rounded back on the way out) otherwise.
func computeInFloat<T: StorageElement>(_ inputs: [UnsafeBufferPointer<T>], _ output: UnsafeMutableBufferPointer<T>,
                                       _ body: ([UnsafePointer<Float>], UnsafeMutablePointer<Float>) -> Void) {
    if T.self == Float.self {
        let floats = inputs.map { UnsafePointer<Float>(OpaquePointer($0.baseAddress!)) }
        return body(floats, UnsafeMutablePointer<Float>(OpaquePointer(output.baseAddress!)))
    }
    let widened = inputs.map { $0.map(\.float) }
    var result = [Float](repeating: 0, count: output.count)
    withPointers(widened) { pointers in result.withUnsafeMutableBufferPointer { body(pointers, $0.baseAddress!) } }
    for i in 0 ..< output.count { output[i] = T(result[i]) }
}

/// Pointers to the elements of several arrays at once.
private func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    func recurse(_ index: Int, _ collected: [UnsafePointer<Float>]) -> R {
        guard index < arrays.count else { return body(collected) }
        return arrays[index].withUnsafeBufferPointer { recurse(index + 1, collected + [$0.baseAddress!]) }
    }
    return recurse(0, [])
}

/// Rethrows a raw `CLError` as the package's error type.
func wrapCL<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as CLError { throw FusedKernelsError.openCL(error) }
}
