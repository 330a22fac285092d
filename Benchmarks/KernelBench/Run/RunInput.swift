import Foundation
import FusedKernels

/// What an input file must hold, and so the dtype of the tensor it becomes.
enum InputRole {
    /// Data in the run's storage type (`--dtype`): `<f2` for float16, else `<f4`
    /// (rounded to nearest even for bfloat16).
    case storage
    /// fp32 whatever `--dtype` is (additive masks, ALiBi slopes, log-sum-exps and their
    /// gradients, the cross-entropy's upstream gradient): `<f4`.
    case float32
    /// A keep mask: `|b1`, each byte 0 or 1.
    case bool
    /// Indices (cross-entropy targets): `<i4`, or `<i8` whose values fit int32.
    case int32

    func tensorDType(storage: DType) -> DType {
        switch self {
        case .storage: return storage
        case .float32: return .float32
        case .bool: return .bool
        case .int32: return .int32
        }
    }

    func accepts(storage: DType) -> [NPYDType] {
        switch self {
        case .storage: return storage == .float16 ? [.float16] : [.float32]
        case .float32: return [.float32]
        case .bool: return [.bool]
        case .int32: return [.int32, .int64]
        }
    }
}

/// One input file, read and checked: the flag it came from, the library's name for the
/// argument it becomes (the library's errors name that, and are reported against the
/// file), and its elements in the bytes of the tensor's dtype (int64 narrowed to int32).
struct InputFile {
    let path: String
    let flag: String
    let argument: String
    let dtype: DType
    let array: NPYArray

    /// Reads a .npy file of rank 1–4 with no empty axis (what a tensor can be).
    static func load(_ path: String, flag: String) throws -> NPYArray {
        let fail = { (problem: String) in RunError(file: path, flag: flag, problem) }
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw fail("cannot read: \((error as NSError).localizedDescription)")
        }
        let array: NPYArray
        do { array = try NPY.decode(bytes) } catch let error as NPYError { throw fail(error.description) }
        guard (1 ... Tensor.maxRank).contains(array.shape.count) else {
            throw fail(array.shape.isEmpty ? "rank 0 (a scalar); arrays of rank 1...\(Tensor.maxRank) are supported"
                : "rank \(array.shape.count) (shape \(array.shape)); arrays of rank 1...\(Tensor.maxRank) are supported")
        }
        guard array.shape.allSatisfy({ $0 >= 1 }) else { throw fail("shape \(array.shape) has an empty axis") }
        guard array.count <= Tensor.maxElements else {
            throw fail("\(array.count) elements, more than a tensor's \(Tensor.maxElements)")
        }
        return array
    }

    /// Checks `array` (loaded from `path`) against what `role` needs.
    init(_ array: NPYArray, path: String, flag: String, argument: String, role: InputRole, storage: DType) throws {
        let fail = { (problem: String) in RunError(file: path, flag: flag, problem) }
        let accepted = role.accepts(storage: storage)
        guard accepted.contains(array.dtype) else {
            let expected = accepted.map(\.rawValue).joined(separator: " or ")
            let hint = role == .storage ? " (--dtype \(storage))" : ""
            throw fail("dtype \(array.dtype.rawValue), expected \(expected)\(hint)")
        }
        switch array.dtype {
        case .bool:
            let bytes = array.elements(UInt8.self)
            if let bad = bytes.firstIndex(where: { $0 > 1 }) {
                throw fail("element \(bad) is the byte \(bytes[bad]), not a bool (0 or 1)")
            }
            self.array = array
        case .int64:
            let values = array.elements(Int64.self)
            if let bad = values.firstIndex(where: { Int32(exactly: $0) == nil }) {
                throw fail("element \(bad) is \(values[bad]), outside int32")
            }
            self.array = NPYArray(values.map { Int32($0) }, dtype: .int32, shape: array.shape)
        case .float32, .float16, .int32:
            self.array = array
        }
        (self.path, self.flag, self.argument, dtype) = (path, flag, argument, role.tensorDType(storage: storage))
    }

    /// A new tensor of these elements on `engine`.
    func tensor(on engine: Engine) throws -> Tensor {
        switch dtype {
        case .float32: return try engine.tensor(array.elements(Float.self), shape: array.shape)
        case .float16: return try engine.tensor(array.elements(Float16.self), shape: array.shape)
        case .bfloat16: return try engine.tensor(array.elements(Float.self).map(BFloat16.init), shape: array.shape)
        case .int32: return try engine.tensor(array.elements(Int32.self), shape: array.shape)
        case .bool: return try engine.tensor(array.elements(Bool.self), shape: array.shape)
        }
    }
}
