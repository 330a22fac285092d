/// How tensor elements are stored. Floating-point arithmetic is always fp32; fp16 and
/// bf16 halve the bytes that memory-bound kernels move. `int32` holds indices (targets,
/// top-k columns); `bool` is one byte per element (0 or 1), for masks.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The storage types: `float32` (IEEE single, 4 bytes), `float16` (IEEE half, 2 bytes),
    /// `bfloat16` (the top 16 bits of an fp32 value, 2 bytes), `int32` (4 bytes) and `bool`
    /// (1 byte holding 0 or 1).
    case float32, float16, bfloat16, int32, bool

    /// Bytes per element: 4 for `float32` and `int32`, 2 for `float16` and `bfloat16`,
    /// 1 for `bool`.
    public var byteCount: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .bool: return 1
        }
    }

    /// Whether this is `float32`, `float16` or `bfloat16`: the types that ops compute on.
    public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .bfloat16 }
    /// The case's name, e.g. `float16`.
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
    ///
    /// `float32`, `int32` and `bool` return `value` unchanged.
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
    /// The storage type of a tensor made from an array of this type.
    static var dtype: DType { get }
}

/// A floating-point host type: converts to and from fp32, so any floating tensor can
/// be read as any floating element type.
public protocol FloatingTensorElement: TensorElement {
    /// The value nearest to `value` (rounded to nearest even when narrowing).
    init(_ value: Float)
    /// The value as fp32 (exact for Float, Float16 and BFloat16).
    var float: Float { get }
}

/// Swift's Float is the element of `float32` tensors.
extension Float: FloatingTensorElement {
    /// ``DType/float32``.
    public static var dtype: DType { .float32 }
    /// The value itself.
    public var float: Float { self }
}

/// Swift's Float16 is the element of `float16` tensors.
extension Float16: FloatingTensorElement {
    /// ``DType/float16``.
    public static var dtype: DType { .float16 }
    /// The value widened to fp32 (exact).
    public var float: Float { Float(self) }
}

/// Swift's Int32 is the element of `int32` tensors (targets, top-k indices).
extension Int32: TensorElement {
    /// ``DType/int32``.
    public static var dtype: DType { .int32 }
}

/// Swift's Bool is one byte holding 0 or 1: the layout of a `bool` tensor.
extension Bool: TensorElement {
    /// ``DType/bool``.
    public static var dtype: DType { .bool }
}

/// bfloat16: the top 16 bits of an IEEE fp32 value.
public struct BFloat16: FloatingTensorElement, Hashable, CustomStringConvertible {
    /// The 16 stored bits: sign, 8 exponent bits, 7 mantissa bits.
    public var bitPattern: UInt16

    /// ``DType/bfloat16``.
    public static var dtype: DType { .bfloat16 }

    /// The value with these bits, as stored in a `bfloat16` tensor.
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

    /// The value as fp32 (exact: the bits become the top half of an fp32 value).
    public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
    /// The description of the fp32 value (``float``).
    public var description: String { float.description }
}
