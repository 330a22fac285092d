/// Every error the package throws. Input errors are raised before any kernel runs.
///
/// The input errors name the argument they are about; ``description`` renders any case
/// as a message (a build failure's with the compiler's log on the following lines).
public enum FusedKernelsError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A shape is not usable (rank outside 1...4, an extent < 1, too many elements).
    case invalidShape(argument: String, shape: [Int], reason: String)
    /// An argument's element count does not match what the shape requires.
    case sizeMismatch(argument: String, expected: Int, actual: Int)
    /// A tensor's shape is not the one the op needs (or does not broadcast to it).
    case shapeMismatch(argument: String, expected: [Int], actual: [Int])
    /// Two tensors that must share a storage type do not.
    case dtypeMismatch(argument: String, expected: DType, actual: DType)
    /// A scalar argument is out of range (e.g. a non-finite scale).
    case invalidArgument(argument: String, reason: String)
    /// A tensor belongs to another engine (alive or gone) than the one it was passed to.
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
    /// A launch's arguments do not match its kernel's parameters (a bug in the package).
    case invalidKernelArguments(kernel: String, reason: String)

    /// A message saying what is wrong and with which argument, device or call (for
    /// ``buildFailed(kernelFile:device:options:log:)``, the build log on the next lines).
    public var description: String {
        switch self {
        case let .invalidShape(argument, shape, reason):
            return "\(argument): invalid shape \(shape): \(reason)"
        case let .sizeMismatch(argument, expected, actual):
            return "\(argument): expected \(expected) elements, got \(actual)"
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
        case let .invalidKernelArguments(kernel, reason):
            return "kernel \(kernel): \(reason)"
        }
    }
}
