import Foundation

/// How the CPU path reads and writes tensors: as dense row-major fp32 elements. A host
/// fp32 tensor whose rows are dense is used in place; anything else (another dtype, a
/// strided view, a device tensor after a kernel fell back) goes through a Float copy.
extension Tensor {
    /// Calls `body` with the view's `count` elements as dense row-major Floats.
    func withHostFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) throws -> R {
        if let pointer = denseHostFloats { return try body(pointer) }
        return try floatElements().withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Lets `body` write the view's `count` elements as dense row-major Floats, then
    /// stores them in the tensor's dtype (rounded to nearest even) through its strides.
    func fillFloats(_ body: (UnsafeMutablePointer<Float>) throws -> Void) throws {
        if let pointer = denseHostFloats { return try body(UnsafeMutablePointer(mutating: pointer)) }
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
        try store(values)
    }

    /// The elements of a host fp32 tensor whose view is one dense run, in place.
    var denseHostFloats: UnsafePointer<Float>? {
        guard dtype == .float32, case .host(let host) = storage.location, let layout = rowLayout,
              layout.rows == 1 || layout.rowStride == layout.cols else { return nil }
        return UnsafePointer(host.bytes.assumingMemoryBound(to: Float.self) + layout.offset)
    }

    /// Writes `values` (row-major, `count` of them) through the view, in its dtype.
    func store(_ values: [Float]) throws {
        switch dtype {
        case .float32: try storeElements(values)
        case .float16: try storeElements(values.map(Float16.init))
        case .bfloat16: try storeElements(values.map(BFloat16.init))
        case .int32, .bool:
            throw FusedKernelsError.dtypeMismatch(argument: "output", expected: .float32, actual: dtype)
        }
    }

    /// Writes `elements` (row-major) through the view: a device write per dense run.
    func storeElements<T: BitwiseCopyable>(_ elements: [T]) throws {
        let size = MemoryLayout<T>.stride
        switch storage.location {
        case .host(let host):
            let base = host.bytes.assumingMemoryBound(to: T.self)
            var next = 0
            forEachStorageIndex { index in
                base[index] = elements[next]
                next += 1
            }
        case .device(let buffer):
            guard let layout = rowLayout, layout.rows == 1 || layout.rowStride >= layout.cols else {
                throw FusedKernelsError.invalidArgument(argument: "output", reason: "a view whose rows overlap or are not contiguous")
            }
            try elements.withUnsafeBytes { bytes in
                if layout.rows == 1 || layout.rowStride == layout.cols {
                    return try wrapCL { try buffer.write(bytes, at: layout.offset * size) }
                }
                let rowBytes = layout.cols * size
                for row in 0 ..< layout.rows {
                    let source = UnsafeRawBufferPointer(rebasing: bytes[row * rowBytes ..< (row + 1) * rowBytes])
                    try wrapCL { try buffer.write(source, at: (layout.offset + row * layout.rowStride) * size) }
                }
            }
        }
    }
}

/// Rethrows a raw `CLError` as the package's error type.
func wrapCL<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as CLError { throw FusedKernelsError.openCL(error) }
}
