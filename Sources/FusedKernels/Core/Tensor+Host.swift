import Foundation

/// The one adapter between host arrays and tensors: arrays in with `Engine.tensor`,
/// out with `Tensor.array(of:)`. Every op takes and returns tensors.
extension Engine {
    /// A new contiguous tensor of `shape` holding `values` (row-major) as `T.dtype`.
    /// The count is checked against the shape before anything is allocated.
    ///
    /// - Throws: ``FusedKernelsError/invalidShape(argument:shape:reason:)`` for a rank
    ///   outside 1...4, an extent below 1 or more than ``Tensor/maxElements`` elements;
    ///   ``FusedKernelsError/sizeMismatch(argument:expected:actual:)`` when `values.count`
    ///   is not the shape's element count; ``FusedKernelsError/openCL(_:)`` when the device
    ///   buffer cannot be made or written.
    public func tensor<T: TensorElement>(_ values: [T], shape: [Int]) throws -> Tensor {
        try Tensor.validate(shape, "shape")
        guard values.count == shape.reduce(1, *) else {
            throw FusedKernelsError.sizeMismatch(argument: "values", expected: shape.reduce(1, *), actual: values.count)
        }
        let tensor = try empty(shape: shape, dtype: T.dtype)
        try values.withUnsafeBytes { try tensor.storage.write($0, at: 0) }
        return tensor
    }

    /// A new contiguous tensor whose contents are unspecified (zeros on the CPU path; a
    /// poison pattern in debug builds on OpenCL, so that tests catch unwritten elements).
    /// Use it for the outputs of the `into:` forms of the ops.
    ///
    /// - Throws: ``FusedKernelsError/invalidShape(argument:shape:reason:)`` for a shape no
    ///   tensor can have; ``FusedKernelsError/openCL(_:)`` when the buffer cannot be made.
    public func empty(shape: [Int], dtype: DType) throws -> Tensor {
        try Tensor.validate(shape, "shape")
        let bytes = shape.reduce(1, *) * dtype.byteCount
        let location: TensorStorage.Location
        if let context {
            location = .device(try wrapCL { try context.makeBuffer(bytes: bytes) })
        } else {
            location = .host(HostBuffer(byteCount: bytes))
        }
        return Tensor(shape: shape, strides: Tensor.contiguousStrides(shape), offset: 0, dtype: dtype,
                      storage: TensorStorage(location, byteCount: bytes, engineID: id))
    }

    /// Throws unless `tensor` was made by this engine (a tensor of another engine, alive
    /// or gone, is a typed error, never a crash).
    func checkOwner(_ tensor: Tensor, _ argument: String) throws {
        guard tensor.storage.engineID == id else {
            throw FusedKernelsError.deviceMismatch(argument: argument, tensorDevice: "another engine (\(tensor.storage.location))",
                                                   engineDevice: backend.description)
        }
    }
}

extension Tensor {
    /// The elements in row-major order of the view, as `T`. Floating tensors read as any
    /// floating type (exact when widening, rounded to nearest even when narrowing);
    /// otherwise `T.dtype` must be the tensor's dtype.
    ///
    /// - Throws: ``FusedKernelsError/dtypeMismatch(argument:expected:actual:)`` when the
    ///   types do not fit; ``FusedKernelsError/openCL(_:)`` when the device read fails.
    public func array<T: TensorElement>(of type: T.Type = T.self) throws -> [T] {
        if T.dtype == dtype { return try storedElements(T.self) }
        guard let floating = T.self as? any FloatingTensorElement.Type, dtype.isFloatingPoint else {
            throw FusedKernelsError.dtypeMismatch(argument: "array(of:)", expected: dtype, actual: T.dtype)
        }
        let floats = try floatElements()
        return floats.map { floating.init($0) as! T }
    }

    /// The elements as Float (floating dtypes only).
    func floatElements() throws -> [Float] {
        switch dtype {
        case .float32: return try storedElements(Float.self)
        case .float16: return try storedElements(Float16.self).map(Float.init)
        case .bfloat16: return try storedElements(BFloat16.self).map(\.float)
        case .int32, .bool:
            throw FusedKernelsError.dtypeMismatch(argument: "array(of:)", expected: dtype, actual: .float32)
        }
    }

    /// The view's elements as stored (`T` has the dtype's size), gathered through strides.
    func storedElements<T: BitwiseCopyable>(_ type: T.Type) throws -> [T] {
        let (low, high) = storageRange
        let window: [T] = try storage.readArray(count: high - low + 1, from: low)
        if isContiguous { return window }
        var gathered: [T] = []
        gathered.reserveCapacity(count)
        forEachStorageIndex { gathered.append(window[$0 - low]) }
        return gathered
    }

    /// The lowest and highest storage index the view touches.
    var storageRange: (low: Int, high: Int) {
        let span = zip(shape, strides).reduce(0) { $0 + ($1.0 - 1) * Int($1.1) }
        return (Int(offset), Int(offset) + span)
    }
}

extension TensorStorage {
    /// `count` elements of `T` from element `index` on.
    func readArray<T>(count: Int, from index: Int) throws -> [T] {
        switch location {
        case .device(let buffer):
            return try wrapCL { try buffer.readArray(count: count, from: index) }
        case .host(let host):
            let start = host.bytes.advanced(by: index * MemoryLayout<T>.stride).assumingMemoryBound(to: T.self)
            return Array(UnsafeBufferPointer(start: start, count: count))
        }
    }

    /// Writes `bytes` at byte `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        switch location {
        case .device(let buffer):
            try wrapCL { try buffer.write(bytes, at: offset) }
        case .host(let host):
            if let base = bytes.baseAddress { host.bytes.advanced(by: offset).copyMemory(from: base, byteCount: bytes.count) }
        }
    }
}
