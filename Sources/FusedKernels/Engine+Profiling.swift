import Foundation

/// Device time of one kernel launch, from OpenCL profiling events, and the kernel spec
/// it launched (the label benchmarks report it under).
public struct KernelTiming: Sendable {
    /// The kernel that ran: file, entry point and defines.
    public let spec: KernelSpec
    /// From the launch's start to its end on the device (`CL_PROFILING_COMMAND_START`
    /// to `CL_PROFILING_COMMAND_END`).
    public let milliseconds: Double

    /// The kernel's entry point (``KernelSpec/entry``).
    public var kernel: String { spec.entry }
}

extension Engine {
    /// Runs `body` and returns the device time of every kernel it launched on this
    /// engine (empty on the CPU path), in launch order. Meant for benchmarks: launches
    /// made by other threads during `body` are counted too.
    ///
    /// - Throws: what `body` throws, or ``FusedKernelsError/openCL(_:)`` when a launch's
    ///   profiling information cannot be read.
    public func profile(_ body: () throws -> Void) throws -> [KernelTiming] {
        recorder.start()
        do { try body() } catch {
            _ = recorder.stop()
            throw error
        }
        return try wrapCL {
            try recorder.stop().map { KernelTiming(spec: $0.spec, milliseconds: try $0.event.milliseconds()) }
        }
    }

    func record(_ event: CLEvent, _ spec: KernelSpec) { recorder.append((spec, event)) }
}

final class EventRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [(spec: KernelSpec, event: CLEvent)]?

    func start() {
        lock.lock(); defer { lock.unlock() }
        events = []
    }

    func append(_ event: (spec: KernelSpec, event: CLEvent)) {
        lock.lock(); defer { lock.unlock() }
        events?.append(event)
    }

    func stop() -> [(spec: KernelSpec, event: CLEvent)] {
        lock.lock(); defer { lock.unlock() }
        defer { events = nil }
        return events ?? []
    }
}
