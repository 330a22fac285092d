/// Every error the package throws. Input errors are raised before any kernel runs.
public enum FusedKernelsError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A shape is not usable (a dimension < 1, or an element count that overflows).
    case invalidShape(argument: String, rows: Int, cols: Int)
    /// An argument's element count does not match what the shape requires.
    case sizeMismatch(argument: String, expected: Int, actual: Int)
    /// A mask's shape is neither `[cols]` nor `[rows, cols]`.
    case maskShapeMismatch(argument: String, count: Int, rows: Int, cols: Int)
    /// Two tensors that must share a shape do not.
    case shapeMismatch(argument: String, expected: Shape, actual: Shape)
    /// Two tensors that must share a storage type do not.
    case dtypeMismatch(argument: String, expected: DType, actual: DType)
    /// A scalar argument is out of range (e.g. a non-finite scale).
    case invalidArgument(argument: String, reason: String)
    /// A tensor lives on a different device than the engine it was passed to.
    case deviceMismatch(argument: String, tensorDevice: String, engineDevice: String)
    /// No OpenCL platform or device is available and OpenCL was required.
    case noOpenCLDevice(reason: String)
    /// A device selector matched none of the devices found.
    case deviceNotFound(selector: String, available: [String])
    /// A kernel failed to build; carries the compiler's build log.
    case buildFailed(kernelFile: String, device: String, options: String, log: String)
    /// The OpenCL kernel sources could not be found.
    case kernelSourcesNotFound(searched: [String])
    /// An OpenCL call failed.
    case openCL(CLError)

    public var description: String {
        switch self {
        case let .invalidShape(argument, rows, cols):
            return "\(argument): invalid shape [\(rows), \(cols)]; rows and cols must be ≥ 1"
        case let .sizeMismatch(argument, expected, actual):
            return "\(argument): expected \(expected) elements, got \(actual)"
        case let .maskShapeMismatch(argument, count, rows, cols):
            return "\(argument): \(count) elements is neither [\(cols)] nor [\(rows), \(cols)]"
        case let .shapeMismatch(argument, expected, actual):
            return "\(argument): expected shape \(expected), got \(actual)"
        case let .dtypeMismatch(argument, expected, actual):
            return "\(argument): expected dtype \(expected), got \(actual)"
        case let .invalidArgument(argument, reason):
            return "\(argument): \(reason)"
        case let .deviceMismatch(argument, tensorDevice, engineDevice):
            return "\(argument) lives on \(tensorDevice), but the engine runs on \(engineDevice)"
        case let .noOpenCLDevice(reason):
            return "no OpenCL device: \(reason)"
        case let .deviceNotFound(selector, available):
            return "no device matches '\(selector)'; available: \(available.joined(separator: ", "))"
        case let .buildFailed(file, device, options, log):
            return "building \(file) for \(device) with '\(options)' failed:\n\(log)"
        case let .kernelSourcesNotFound(searched):
            return "kernel sources not found; looked in: \(searched.joined(separator: ", "))"
        case let .openCL(error):
            return error.description
        }
    }
}
