import Foundation

/// Memory an op allocates beyond its inputs and outputs (scratch tensors on the device,
/// buffers on the CPU path), so that its footprint can be reported: an op allocates
/// through one arena, which adds its total to the engine's high-water mark when it closes.
final class ScratchArena {
    private let engine: Engine
    private(set) var bytes = 0

    init(_ engine: Engine) { self.engine = engine }

    /// A scratch tensor, counted.
    func tensor(shape: [Int], dtype: DType) throws -> Tensor {
        let tensor = try engine.empty(shape: shape, dtype: dtype)
        bytes += tensor.storage.byteCount
        return tensor
    }

    /// Counts memory allocated some other way (host buffers of the CPU path).
    func note(bytes count: Int) { bytes += count }

    /// Call once the op's scratch is released (or about to be).
    func close() { engine.scratchMeter.record(bytes) }
}

/// The largest scratch total of one op since the last reset.
final class ScratchMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var highWater = 0

    func record(_ bytes: Int) {
        lock.lock()
        highWater = max(highWater, bytes)
        lock.unlock()
    }

    func take() -> Int {
        lock.lock()
        defer { highWater = 0; lock.unlock() }
        return highWater
    }
}

extension Engine {
    /// The most bytes one op allocated beyond its inputs and outputs since the last call
    /// (device memory on OpenCL, host memory on the CPU path), and resets the count. Ops
    /// without scratch report 0.
    public func takeScratchHighWater() -> Int { scratchMeter.take() }
}
