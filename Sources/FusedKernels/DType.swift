/// How tensor elements are stored. Arithmetic is always fp32; fp16 and bf16 halve
/// the bytes that memory-bound kernels move.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32, float16, bfloat16

    public var byteCount: Int { self == .float32 ? 4 : 2 }
    public var description: String { rawValue }

    /// The `DTYPE` the kernels are specialised with.
    var kernelCode: Int {
        switch self {
        case .float32: return 0
        case .float16: return 1
        case .bfloat16: return 2
        }
    }

    /// `value` rounded to this storage type (round to nearest even), as a Float.
    public func round(_ value: Float) -> Float {
        switch self {
        case .float32: return value
        case .float16: return Float(Float16(value))
        case .bfloat16: return BFloat16(value).float
        }
    }
}

/// A Swift type that can hold tensor elements in host memory.
public protocol StorageElement: BitwiseCopyable, Sendable {
    static var dtype: DType { get }
    init(_ value: Float)
    var float: Float { get }
}

extension Float: StorageElement {
    public static var dtype: DType { .float32 }
    public var float: Float { self }
}

extension Float16: StorageElement {
    public static var dtype: DType { .float16 }
    public var float: Float { Float(self) }
}

/// bfloat16: the top 16 bits of an IEEE fp32 value.
public struct BFloat16: StorageElement, Hashable, CustomStringConvertible {
    public var bitPattern: UInt16

    public static var dtype: DType { .bfloat16 }

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// Rounds to nearest, ties to even; NaN stays a (quiet) NaN.
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        } else {
            let rounding = 0x7FFF + ((bits >> 16) & 1)
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
        }
    }

    public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
    public var description: String { float.description }
}
