import Foundation

/// A tensor of rank 1–4: a view (shape, Int64 element strides and offset) of storage that
/// lives where its engine computes, a device buffer on OpenCL or raw host bytes on the
/// CPU path, in the tensor's dtype. Slices, transposes and stride-0 broadcasts are new
/// views of the same storage (`Tensor+Views.swift`), never copies. Host arrays go in and
/// out through ``Engine/tensor(_:shape:)`` and ``array(of:)``.
///
/// A tensor belongs to the engine that made it (``Engine/tensor(_:shape:)``,
/// ``Engine/empty(shape:dtype:)`` or an op): passing it to another engine, even one that
/// is gone, throws ``FusedKernelsError/deviceMismatch(argument:tensorDevice:engineDevice:)``.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// The extent of each axis, outermost first (1 to ``maxRank`` axes, each ≥ 1).
    public let shape: [Int]
    /// Elements to step in storage per index of each axis (0: broadcast along it).
    public let strides: [Int64]
    /// The storage element of index (0, 0, …).
    public let offset: Int64
    /// How the elements are stored.
    public let dtype: DType
    let storage: TensorStorage

    init(shape: [Int], strides: [Int64], offset: Int64, dtype: DType, storage: TensorStorage) {
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.dtype = dtype
        self.storage = storage
    }

    /// The number of axes, 1 to ``maxRank``.
    public var rank: Int { shape.count }
    /// Elements in the view (bounded by `Tensor.maxElements`, so never overflows).
    public var count: Int { shape.reduce(1, *) }

    /// Row-major and dense: the view covers `count` consecutive storage elements in order.
    public var isContiguous: Bool {
        var expected: Int64 = 1
        for axis in (0 ..< rank).reversed() where shape[axis] > 1 {
            guard strides[axis] == expected else { return false }
            expected *= Int64(shape[axis])
        }
        return true
    }

    /// Dtype, shape, strides, offset and where the storage lives (`device` or `host`).
    public var description: String {
        "Tensor(\(dtype), shape \(shape), strides \(strides), offset \(offset), on \(storage.location))"
    }

    /// Kernels index rows and columns with 32-bit ints.
    public static let maxElements = Int(Int32.max)
    /// The highest rank a tensor may have.
    public static let maxRank = 4

    /// Checks that `shape` can be a tensor's: rank 1–4, every extent ≥ 1, at most
    /// `maxElements` elements (the product is formed without overflow).
    static func validate(_ shape: [Int], _ argument: String) throws {
        guard (1 ... maxRank).contains(shape.count) else {
            throw FusedKernelsError.invalidShape(argument: argument, shape: shape, reason: "rank must be 1...\(maxRank)")
        }
        guard shape.allSatisfy({ $0 >= 1 }) else {
            throw FusedKernelsError.invalidShape(argument: argument, shape: shape, reason: "every extent must be ≥ 1")
        }
        var product = 1
        for extent in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: extent)
            guard !overflow, next <= maxElements else {
                throw FusedKernelsError.invalidShape(argument: argument, shape: shape,
                                                     reason: "more than \(maxElements) elements")
            }
            product = next
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int64] {
        var strides = [Int64](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) {
            strides[axis] = strides[axis + 1] * Int64(shape[axis + 1])
        }
        return strides
    }

    /// The storage index of every element, in row-major order of the view.
    func forEachStorageIndex(_ body: (Int) -> Void) {
        let padded = [Int](repeating: 1, count: 4 - rank) + shape
        let steps = [Int](repeating: 0, count: 4 - rank) + strides.map { Int($0) }
        let base = Int(offset)
        for i0 in 0 ..< padded[0] {
            for i1 in 0 ..< padded[1] {
                for i2 in 0 ..< padded[2] {
                    let row = base + i0 * steps[0] + i1 * steps[1] + i2 * steps[2]
                    for i3 in 0 ..< padded[3] { body(row + i3 * steps[3]) }
                }
            }
        }
    }
}

/// The bytes behind one or more tensor views, and the engine that made them.
final class TensorStorage: @unchecked Sendable {
    enum Location: CustomStringConvertible {
        case device(CLBuffer)
        case host(HostBuffer)

        var description: String {
            switch self {
            case .device: return "device"
            case .host: return "host"
            }
        }
    }

    let location: Location
    /// The engine that allocated it: a number never reused, so a tensor of an engine
    /// that is gone is never mistaken for another's.
    let engineID: UInt64
    let byteCount: Int

    init(_ location: Location, byteCount: Int, engineID: UInt64) {
        self.location = location
        self.byteCount = byteCount
        self.engineID = engineID
    }
}

/// Zero-filled, 64-byte aligned host memory of a CPU-path tensor.
final class HostBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    deinit { bytes.deallocate() }
}
