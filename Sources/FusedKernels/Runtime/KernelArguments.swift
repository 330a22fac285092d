import COpenCL

/// A value for one kernel parameter, bound by the parameter's name.
enum KernelArgument {
    /// A `__global` buffer; `nil` passes NULL (an absent optional operand).
    case buffer(CLBuffer?)
    /// `__local` memory of this many bytes.
    case local(bytes: Int)
    case int32(Int32)
    case int64(Int64)
    case uint32(UInt32)
    case float(Float)

    static func int(_ value: Int) -> KernelArgument { .int32(Int32(truncatingIfNeeded: value)) }
    static func long(_ value: Int) -> KernelArgument { .int64(Int64(value)) }

    /// The OpenCL C scalar type this value fills, nil for buffers and local memory.
    var scalarType: String? {
        switch self {
        case .buffer, .local: return nil
        case .int32: return "int"
        case .int64: return "long"
        case .uint32: return "uint"
        case .float: return "float"
        }
    }
}

/// A launch's arguments by parameter name, written as a dictionary literal. A name
/// given twice is reported when bound (a literal `Dictionary` would trap instead).
struct KernelArguments: ExpressibleByDictionaryLiteral {
    var pairs: [(name: String, value: KernelArgument)]

    init(dictionaryLiteral elements: (String, KernelArgument)...) {
        pairs = elements.map { (name: $0.0, value: $0.1) }
    }

    static func + (lhs: KernelArguments, rhs: KernelArguments) -> KernelArguments {
        var sum = lhs
        sum.pairs += rhs.pairs
        return sum
    }

    /// These arguments with those of `other` put in place of the same names.
    func replacing(_ other: KernelArguments) -> KernelArguments {
        let names = Set(other.pairs.map(\.name))
        var result = other
        result.pairs = pairs.filter { !names.contains($0.name) } + other.pairs
        return result
    }
}

extension CLKernel {
    /// Sets every parameter of `signature` from `arguments` by name. Each parameter must
    /// be given exactly once with a value of its kind, and no name may be left over.
    func bind(_ arguments: KernelArguments, signature: KernelSignature) throws {
        var byName: [String: KernelArgument] = [:]
        for (name, value) in arguments.pairs {
            guard byName.updateValue(value, forKey: name) == nil else {
                throw FusedKernelsError.invalidKernelArguments(kernel: self.name, reason: "'\(name)' given twice")
            }
        }
        for (index, parameter) in signature.parameters.enumerated() {
            guard let value = byName.removeValue(forKey: parameter.name) else {
                throw FusedKernelsError.invalidKernelArguments(kernel: self.name, reason: "'\(parameter.name)' not bound")
            }
            try set(index, parameter, value)
        }
        if let extra = byName.keys.sorted().first {
            throw FusedKernelsError.invalidKernelArguments(kernel: self.name, reason: "no parameter named '\(extra)'")
        }
    }

    private func set(_ index: Int, _ parameter: KernelSignature.Parameter, _ value: KernelArgument) throws {
        let mismatch = FusedKernelsError.invalidKernelArguments(
            kernel: name, reason: "'\(parameter.name)' is \(parameter.kind), got \(value)")
        let position = cl_uint(index)
        let status: cl_int
        switch (parameter.kind, value) {
        case (.buffer, .buffer(let buffer)):
            if let buffer {
                if !parameter.readOnly { buffer.forgetHostCopy() }
                var memory: cl_mem? = buffer.memory
                status = clSetKernelArg(kernel, position, MemoryLayout<cl_mem>.size, &memory)
            } else {
                status = clSetKernelArg(kernel, position, MemoryLayout<cl_mem>.size, nil)
            }
        case (.local, .local(let bytes)):
            status = clSetKernelArg(kernel, position, max(bytes, 1), nil)
        case (.scalar(let type), _) where type == value.scalarType:
            status = value.withScalarBytes { clSetKernelArg(kernel, position, $0.count, $0.baseAddress) }
        default:
            throw mismatch
        }
        try CLError.check(status, "clSetKernelArg(\(name), \(parameter.name))")
    }
}

private extension KernelArgument {
    func withScalarBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .int32(let value): return withUnsafeBytes(of: value, body)
        case .int64(let value): return withUnsafeBytes(of: value, body)
        case .uint32(let value): return withUnsafeBytes(of: value, body)
        case .float(let value): return withUnsafeBytes(of: value, body)
        case .buffer, .local: preconditionFailure("not a scalar")
        }
    }
}

/// A launch's index space: 1 to 3 dimensions of global size, and a local (work-group)
/// size for each, or nil to let the driver choose. Each global size is rounded up to a
/// whole number of work-groups (OpenCL 1.2 rejects partial groups); kernels skip the
/// items past their data.
struct Grid: Equatable, CustomStringConvertible {
    let global: [Int]
    let local: [Int]?

    init(global: [Int], local: [Int]?) {
        precondition((1 ... 3).contains(global.count) && (local == nil || local!.count == global.count))
        self.local = local
        self.global = local.map { zip(global, $0).map { g, l in (g + l - 1) / l * l } } ?? global
    }

    /// `items` work-items in work-groups of `groupSize` along one dimension.
    static func linear(_ items: Int, groupSize: Int) -> Grid { Grid(global: [items], local: [groupSize]) }

    var description: String { "global \(global) local \(local.map { "\($0)" } ?? "auto")" }
}
