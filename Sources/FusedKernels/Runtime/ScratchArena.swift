import Foundation

/// Memory an op allocates beyond its inputs and outputs (scratch tensors on the device,
/// buffers on the CPU path), so that its footprint can be reported: an op allocates
/// through one arena, which adds its total to the engine's high-water mark when it closes.
/// Device scratch comes from the engine's `ScratchPool` and goes back to it at `close`, so
/// a scratch tensor must not outlive its op.
final class ScratchArena {
    private let engine: Engine
    private(set) var bytes = 0
    private var pooled: [CLBuffer] = []

    init(_ engine: Engine) { self.engine = engine }

    /// A scratch tensor, counted.
    func tensor(shape: [Int], dtype: DType) throws -> Tensor {
        guard let context = engine.context else {
            let tensor = try engine.empty(shape: shape, dtype: dtype)
            bytes += tensor.storage.byteCount
            return tensor
        }
        try Tensor.validate(shape, "shape")
        let count = shape.reduce(1, *) * dtype.byteCount
        let buffer = try engine.scratchPool.take(bytes: count, on: context)
        pooled.append(buffer)
        bytes += count
        return Tensor(shape: shape, strides: Tensor.contiguousStrides(shape), offset: 0, dtype: dtype,
                      storage: TensorStorage(.device(buffer), byteCount: count, engineID: engine.id))
    }

    /// Counts memory allocated some other way (host buffers of the CPU path).
    func note(bytes count: Int) { bytes += count }

    /// Call once the op has enqueued the last use of its scratch.
    func close() {
        engine.scratchMeter.record(bytes)
        pooled.forEach(engine.scratchPool.give)
        pooled = []
    }
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
