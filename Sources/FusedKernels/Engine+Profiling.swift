import Foundation

/// Device time of one kernel launch, from OpenCL profiling events.
public struct KernelTiming: Sendable {
    public let kernel: String
    public let milliseconds: Double
}

extension Engine {
    /// Runs `body` and returns the device time of every kernel it launched on this
    /// engine (empty on the CPU path). Meant for benchmarks: launches made by other
    /// threads during `body` are counted too.
    public func profile(_ body: () throws -> Void) throws -> [KernelTiming] {
        recorder.start()
        do { try body() } catch {
            _ = recorder.stop()
            throw error
        }
        return try wrapCL { try recorder.stop().map { KernelTiming(kernel: $0.name, milliseconds: try $0.milliseconds()) } }
    }

    func record(_ event: CLEvent) { recorder.append(event) }
}

final class EventRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [CLEvent]?

    func start() {
        lock.lock(); defer { lock.unlock() }
        events = []
    }

    func append(_ event: CLEvent) {
        lock.lock(); defer { lock.unlock() }
        events?.append(event)
    }

    func stop() -> [CLEvent] {
        lock.lock(); defer { lock.unlock() }
        defer { events = nil }
        return events ?? []
    }
}
