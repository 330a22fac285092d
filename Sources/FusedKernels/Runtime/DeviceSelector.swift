import Foundation

/// What `FUSED_KERNELS_DEVICE` (or an explicit argument) asks for.
///
/// - `cpu`: the CPU SIMD path.
/// - `opencl`: the OpenCL device with the most compute units; an error if there is none.
/// - `opencl:N`: device N of `kernel-bench devices`; an error if it does not exist.
/// - anything else: the first device whose name or platform contains it (case-insensitive);
///   an error listing every device when none does.
/// - unset, empty or `auto`: the best OpenCL device, else the CPU path.
enum DeviceSelector: Equatable, Sendable {
    case auto
    case cpu
    case anyOpenCL
    case openCLIndex(Int)
    case nameContains(String)

    init(_ text: String?) {
        let text = (text ?? "").trimmingCharacters(in: .whitespaces)
        switch text.lowercased() {
        case "", "auto": self = .auto
        case "cpu": self = .cpu
        case "opencl": self = .anyOpenCL
        case let lower where lower.hasPrefix("opencl:") && Int(lower.dropFirst(7)) != nil:
            self = .openCLIndex(Int(lower.dropFirst(7))!)
        default: self = .nameContains(text)
        }
    }

    /// `opencl` and `opencl:N` make every fallback an error.
    var isStrict: Bool {
        switch self {
        case .anyOpenCL, .openCLIndex: return true
        default: return false
        }
    }

    /// The device to use, `nil` for the CPU path (with the reason), or an error when strict.
    func resolve(in devices: [OpenCLDevice]) throws -> (OpenCLDevice?, reason: String?) {
        let best = devices.max { $0.computeUnits < $1.computeUnits }
        switch self {
        case .cpu:
            return (nil, nil)
        case .auto:
            return best.map { ($0, nil) } ?? (nil, "no OpenCL platform or device found")
        case .anyOpenCL:
            guard let best else {
                throw FusedKernelsError.noOpenCLDevice(reason: "no OpenCL platform or device found")
            }
            return (best, nil)
        case let .openCLIndex(index):
            guard devices.indices.contains(index) else {
                throw FusedKernelsError.deviceNotFound(selector: "opencl:\(index)",
                                                       available: devices.map(\.description))
            }
            return (devices[index], nil)
        case let .nameContains(text):
            let needle = text.lowercased()
            if let match = devices.first(where: {
                $0.name.lowercased().contains(needle) || $0.platformName.lowercased().contains(needle)
            }) {
                return (match, nil)
            }
            throw FusedKernelsError.deviceNotFound(selector: text, available: devices.map(\.description))
        }
    }
}
