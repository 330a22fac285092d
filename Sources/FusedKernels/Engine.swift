import Foundation

/// Where an op ran, or what an engine is bound to.
public enum Backend: Hashable, Sendable, CustomStringConvertible {
    /// The CPU path: Swift SIMD code and a BLAS, multithreaded.
    case cpu
    /// An OpenCL device.
    case opencl(OpenCLDevice)

    /// `cpu`, or the device as `opencl:N name [platform]`.
    public var description: String {
        switch self {
        case .cpu: return "cpu"
        case let .opencl(device): return device.description
        }
    }
}

/// The entry point: an engine is bound to one backend (an OpenCL device or the CPU
/// SIMD path) and runs every op there. Thread-safe.
///
/// Every op checks all of its arguments before it allocates or runs anything and throws
/// a ``FusedKernelsError`` naming the bad one. An op whose kernel fails to build runs on
/// the CPU path instead (with a warning on standard error), unless the engine
/// ``isStrict``; the `into:` forms return the ``Backend`` they ran on.
public final class Engine: @unchecked Sendable {
    /// The backend this engine was bound to. An op may still run on the CPU when its
    /// kernel fails to build; each op reports where it ran.
    public let backend: Backend
    /// Why the engine is on the CPU path although OpenCL was not ruled out, if it is.
    public let fallbackReason: String?
    /// Whether the selector (the argument, or `FUSED_KERNELS_DEVICE`) was `opencl` or
    /// `opencl:N`: then every fallback to the CPU path is an error instead.
    public let isStrict: Bool
    /// The kernel shape an op's `auto` preset stands for on this engine: `auto` (the
    /// device type's), or `cpu` or `gpu` on every device, as the parity tests and
    /// `kernel-bench --preset` use it. An op given `cpu` or `gpu` itself keeps its own.
    public let preset: KernelPreset

    let context: OpenCLContext?
    /// Tells this engine's tensors from every other engine's, living or gone.
    let id = EngineIDs.next()
    let kernelsDirectory: URL?
    let warnings = WarningLog()
    private let sourceLock = NSLock()
    private var sources: [String: KernelSource] = [:]
    let recorder = EventRecorder()
    let scratchMeter = ScratchMeter()
    let scratchPool = ScratchPool()
    let tuningLock = NSLock()
    var tuningParameters = TuningParameters.defaults

    /// An engine on the device `device` selects (see <doc:DevicesAndFallback>).
    ///
    /// Under `auto` on a machine without an OpenCL device, and under `auto` or a device
    /// name when the chosen device's context cannot be created, the engine is on the CPU
    /// path, with ``fallbackReason`` set and a warning on standard error.
    /// On an OpenCL device the engine reads the device's tuning file (<doc:Tuning>).
    ///
    /// - Parameters:
    ///   - device: a selector (`cpu`, `opencl`, `opencl:N`, a device-name substring,
    ///     `auto`); `nil` reads `FUSED_KERNELS_DEVICE`.
    ///   - kernelsDirectory: where the `.cl` files are, for kernel development;
    ///     `nil` uses `FUSED_KERNELS_KERNELS_DIR` or the package's bundled copy.
    ///   - preset: what the ops' `auto` preset stands for (``preset``).
    /// - Throws: ``FusedKernelsError/deviceNotFound(selector:available:)`` when `opencl:N`
    ///   or a name matches no device; ``FusedKernelsError/noOpenCLDevice(reason:)`` for
    ///   `opencl` without a device; ``FusedKernelsError/openCL(_:)`` when a strict
    ///   selector's device cannot be opened or device discovery fails.
    public init(device: String? = nil, kernelsDirectory: URL? = nil, preset: KernelPreset = .auto) throws {
        self.preset = preset
        let selector = DeviceSelector(device ?? ProcessInfo.processInfo.environment["FUSED_KERNELS_DEVICE"])
        isStrict = selector.isStrict
        self.kernelsDirectory = kernelsDirectory
        var context: OpenCLContext?
        var reason: String?
        if selector != .cpu {
            let (device, why) = try selector.resolve(in: try Engine.devices())
            reason = why
            if let device {
                do {
                    context = try OpenCLContext(device: device)
                } catch let error as CLError {
                    if isStrict { throw FusedKernelsError.openCL(error) }
                    reason = "could not open \(device): \(error)"
                }
            }
        }
        self.context = context
        self.backend = context.map { .opencl($0.device) } ?? .cpu
        self.fallbackReason = reason
        if let reason { warnings.warn("running on the CPU path: \(reason)") }
        if let device = context?.device {
            reloadTuning(device: device, environment: ProcessInfo.processInfo.environment)
        }
    }

    /// Every OpenCL device found; empty when the machine has no OpenCL platform.
    public static func devices() throws -> [OpenCLDevice] {
        do { return try OpenCLDevice.all() } catch let error as CLError {
            throw FusedKernelsError.openCL(error)
        }
    }

    /// Launches `spec` over `grid` with its parameters bound by name (building it, through
    /// the program caches, on first use), and records the launch for `profile`.
    func launch(_ spec: KernelSpec, _ grid: Grid, _ arguments: KernelArguments,
                on context: OpenCLContext) throws {
        try context.serialized {
            let kernel = try builtKernel(spec, on: context)
            try kernel.resources.check(grid, spec: spec, device: context.device)
            try kernel.bind(arguments, signature: kernel.signature)
            record(try context.enqueue(kernel, grid), spec)
        }
    }

    /// The pooled kernel object of `spec` on `context`, built on first use.
    func builtKernel(_ spec: KernelSpec, on context: OpenCLContext) throws -> CLKernel {
        let source = try loadSource(spec.file)
        return try context.serialized { try context.kernel(spec, source: source) }
    }

    /// Reads each kernel file once per engine.
    func loadSource(_ file: String) throws -> KernelSource {
        sourceLock.lock()
        defer { sourceLock.unlock() }
        if let source = sources[file] { return source }
        let source = try KernelSources(directory: kernelsDirectory).load(file)
        sources[file] = source
        return source
    }

    /// Runs `openCL` on the bound device, or `cpu` on the CPU path. A kernel that
    /// cannot be built (or found) falls back to `cpu` with a warning, unless strict.
    func dispatch<T>(_ op: String, openCL: (OpenCLContext) throws -> T, cpu: () throws -> T) throws -> (T, Backend) {
        guard let context else { return (try cpu(), .cpu) }
        do {
            return (try context.serialized { try openCL(context) }, backend)
        } catch let error as FusedKernelsError {
            switch error {
            case .buildFailed, .kernelSourcesNotFound:
                if isStrict { throw error }
                warnings.warn("\(op) falls back to the CPU path on \(context.device): \(error)")
                return (try cpu(), .cpu)
            default:
                throw error
            }
        } catch let error as CLError {
            throw FusedKernelsError.openCL(error)
        }
    }
}

/// Engine numbers: unique for the life of the process.
enum EngineIDs {
    private static let counter = LockedCounter()
    static func next() -> UInt64 { counter.next() }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

/// Prints each distinct warning once per engine to standard error.
final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []

    func warn(_ message: String) {
        lock.lock()
        let isNew = seen.insert(message).inserted
        lock.unlock()
        if isNew { FileHandle.standardError.write(Data("FusedKernels: warning: \(message)\n".utf8)) }
    }
}
