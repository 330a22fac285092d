/// How tensor elements are stored. Floating-point arithmetic is always fp32; fp16 and
/// bf16 halve the bytes that memory-bound kernels move. `int32` holds indices (targets,
/// top-k columns); `bool` is one byte per element (0 or 1), for masks.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32, float16, bfloat16, int32, bool

    public var byteCount: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .bool: return 1
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .bfloat16 }
    public var description: String { rawValue }

    /// The `DTYPE` floating-point kernels are specialised with.
    var kernelCode: Int {
        switch self {
        case .float32: return 0
        case .float16: return 1
        case .bfloat16: return 2
        case .int32, .bool: return -1
        }
    }

    /// `value` rounded to this floating-point storage type (to nearest even), as a Float.
    public func round(_ value: Float) -> Float {
        switch self {
        case .float16: return Float(Float16(value))
        case .bfloat16: return BFloat16(value).float
        case .float32, .int32, .bool: return value
        }
    }
}

/// A Swift type whose arrays go in and out of tensors of `dtype` (the host adapter:
/// `Engine.tensor(_:shape:)` and `Tensor.array(of:)`).
public protocol TensorElement: BitwiseCopyable, Sendable {
    static var dtype: DType { get }
}

/// A floating-point host type: converts to and from fp32, so any floating tensor can
/// be read as any floating element type.
public protocol FloatingTensorElement: TensorElement {
    init(_ value: Float)
    var float: Float { get }
}

extension Float: FloatingTensorElement {
    public static var dtype: DType { .float32 }
    public var float: Float { self }
}

extension Float16: FloatingTensorElement {
    public static var dtype: DType { .float16 }
    public var float: Float { Float(self) }
}

extension Int32: TensorElement {
    public static var dtype: DType { .int32 }
}

/// Swift's Bool is one byte holding 0 or 1: the layout of a `bool` tensor.
extension Bool: TensorElement {
    public static var dtype: DType { .bool }
}

/// bfloat16: the top 16 bits of an IEEE fp32 value.
public struct BFloat16: FloatingTensorElement, Hashable, CustomStringConvertible {
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
