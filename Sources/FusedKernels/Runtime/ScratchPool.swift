import Foundation

/// Device scratch buffers kept by an engine between ops, so that an op does not create
/// and release its scratch on every call (a `clCreateBuffer` per call, and on some drivers
/// a synchronisation when the buffer is released). Buffers are reused by exact size: a
/// training loop calls the same shapes again and again. Reuse needs no event: the engine's
/// queue is in order, so a later op's kernels run after every earlier use of the buffer.
/// Held by the engine (not the context, which every buffer keeps alive).
final class ScratchPool: @unchecked Sendable {
    /// Idle bytes kept at most; a buffer given back beyond this is released.
    static let capacity = 256 << 20

    private let lock = NSLock()
    private var idle: [Int: [CLBuffer]] = [:]
    private var idleBytes = 0

    /// A buffer of at least `bytes` on `context`: an idle one of the same size (poisoned
    /// again in debug builds, as a new one is), else a new one.
    func take(bytes: Int, on context: OpenCLContext) throws -> CLBuffer {
        let size = CLBuffer.roundedSize(bytes)
        lock.lock()
        let reused = idle[size]?.popLast()
        if reused != nil { idleBytes -= size }
        lock.unlock()
        guard let reused else { return try context.makeBuffer(bytes: bytes) }
        try context.poison(reused)
        return reused
    }

    /// Gives `buffer` back once its op has enqueued its last use.
    func give(_ buffer: CLBuffer) {
        lock.lock()
        defer { lock.unlock() }
        guard idleBytes + buffer.byteCount <= Self.capacity else { return }
        idle[buffer.byteCount, default: []].append(buffer)
        idleBytes += buffer.byteCount
    }
}
