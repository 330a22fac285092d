import Foundation

/// A `[rows, cols]` fp32 tensor that lives where its engine computes: in a device
/// buffer on OpenCL, in host memory on the CPU path. Ops on device tensors chain
/// without copies to or from the host.
public final class DeviceTensor: @unchecked Sendable {
    public let shape: Shape
    let storage: Storage
    /// The engine that made it; ops check that a tensor belongs to them.
    let owner: ObjectIdentifier

    enum Storage {
        case host(HostStorage)
        case device(CLBuffer)
    }

    init(shape: Shape, storage: Storage, owner: Engine) {
        self.shape = shape
        self.storage = storage
        self.owner = ObjectIdentifier(owner)
    }

    /// Copies the tensor's elements to the host.
    public func toArray() throws -> [Float] {
        switch storage {
        case let .host(host):
            return host.values
        case let .device(buffer):
            var values = [Float](repeating: 0, count: shape.count)
            try values.withUnsafeMutableBufferPointer { try buffer.read(into: $0) }
            return values
        }
    }
}

/// Host memory of a CPU-path tensor (a class so tensors share it without copying).
final class HostStorage {
    var values: [Float]
    init(_ values: [Float]) { self.values = values }
}

extension Engine {
    /// A tensor holding `values` (row-major), on this engine's backend.
    public func tensor(_ values: [Float], shape: Shape) throws -> DeviceTensor {
        try shape.validate("tensor")
        guard values.count == shape.count else {
            throw FusedKernelsError.sizeMismatch(argument: "tensor", expected: shape.count, actual: values.count)
        }
        guard let context else { return DeviceTensor(shape: shape, storage: .host(HostStorage(values)), owner: self) }
        let buffer = try wrapCL { try values.withUnsafeBufferPointer { try context.makeBuffer($0) } }
        return DeviceTensor(shape: shape, storage: .device(buffer), owner: self)
    }

    /// An uninitialised tensor of `shape` for outputs.
    func emptyTensor(_ shape: Shape) throws -> DeviceTensor {
        guard let context else {
            return DeviceTensor(shape: shape, storage: .host(HostStorage([Float](repeating: 0, count: shape.count))),
                                owner: self)
        }
        return DeviceTensor(shape: shape, storage: .device(try wrapCL { try context.makeBuffer(count: shape.count) }),
                            owner: self)
    }

    func checkOwner(_ tensor: DeviceTensor, _ argument: String) throws {
        guard tensor.owner == ObjectIdentifier(self) else {
            throw FusedKernelsError.deviceMismatch(argument: argument, tensorDevice: "another engine",
                                                   engineDevice: backend.description)
        }
    }
}

/// Rethrows a raw `CLError` as the package's error type.
func wrapCL<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as CLError { throw FusedKernelsError.openCL(error) }
}

extension DeviceTensor {
    /// The device buffer; only called on the OpenCL path, where every tensor has one.
    var buffer: CLBuffer {
        guard case let .device(buffer) = storage else { preconditionFailure("host tensor on the OpenCL path") }
        return buffer
    }
}

extension Engine {
    /// Runs a CPU computation on tensors wherever they live: directly on host storage,
    /// or through a download/upload round trip when a kernel fell back on a device.
    func onHost(inputs: [DeviceTensor], output: DeviceTensor,
                _ body: ([UnsafePointer<Float>], UnsafeMutablePointer<Float>) -> Void) throws {
        let hostInputs = try inputs.map { try $0.toArray() }
        let count = output.shape.count
        // Every op writes its whole output, so the array need not be zeroed first.
        let result = withPointers(hostInputs) { pointers in
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                body(pointers, buffer.baseAddress!)
                initialized = count
            }
        }
        switch output.storage {
        case let .host(host): host.values = result
        case let .device(buffer): try wrapCL { try result.withUnsafeBufferPointer { try buffer.write($0) } }
        }
    }
}

/// Pointers to the elements of several arrays at once.
private func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    func recurse(_ index: Int, _ collected: [UnsafePointer<Float>]) -> R {
        guard index < arrays.count else { return body(collected) }
        return arrays[index].withUnsafeBufferPointer { recurse(index + 1, collected + [$0.baseAddress!]) }
    }
    return recurse(0, [])
}
