import COpenCL
import Foundation

/// A context and an in-order, profiling command queue on one device, plus the
/// programs built for it and one kernel object per kernel spec. Thread-safe: every
/// call that touches the queue or a kernel object holds the device's lock (see
/// `serialized`), so binding a pooled kernel's arguments and enqueueing it is atomic.
final class OpenCLContext: @unchecked Sendable {
    let device: OpenCLDevice
    let context: cl_context
    let queue: cl_command_queue
    let programs: ProgramCache
    private var kernels: [KernelSpec: CLKernel] = [:]

    /// One lock per device, shared by every context on it. Drivers differ in what they
    /// allow concurrently: PoCL's `basic` device deadlocked with two threads enqueueing
    /// on one queue (one waited forever in clEnqueueWriteBuffer), and Oclgrind's
    /// runtime is not thread-safe at all (its issues #28 and #202: lost kernel writes, a
    /// corrupt heap), so every simulator shares one process-wide lock. Serialising
    /// costs little: an in-order queue runs one command at a time anyway.
    private static let locks = DeviceLocks()

    private static func lock(for device: OpenCLDevice) -> NSRecursiveLock {
        locks.lock(forKey: device.isSimulator ? 0 : device.handleBits)
    }

    private let deviceLock: NSRecursiveLock

    static func serialized<T>(_ device: OpenCLDevice, _ body: () throws -> T) rethrows -> T {
        let lock = lock(for: device)
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func serialized<T>(_ body: () throws -> T) rethrows -> T {
        deviceLock.lock()
        defer { deviceLock.unlock() }
        return try body()
    }

    init(device: OpenCLDevice) throws {
        self.device = device
        deviceLock = Self.lock(for: device)
        (context, queue) = try Self.serialized(device) {
            var status: cl_int = 0
            var id: cl_device_id? = device.handle
            guard let context = clCreateContext(nil, 1, &id, nil, nil, &status) else {
                throw CLError(status: status, call: "clCreateContext")
            }
            let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
            guard let queue = clCreateCommandQueue(context, device.handle, properties, &status) else {
                clReleaseContext(context)
                throw CLError(status: status, call: "clCreateCommandQueue")
            }
            return (context, queue)
        }
        programs = ProgramCache(device: device)
    }

    deinit {
        serialized {
            clFinish(queue)
            kernels.removeAll()
            programs.releaseAll()
            clReleaseCommandQueue(queue)
            clReleaseContext(context)
        }
    }

    /// A buffer of at least `bytes`, rounded up to whole floats (copy kernels move floats).
    /// Debug builds fill it with a poison pattern (−65504 as fp16, −2.7e36 as fp32 and
    /// bf16) so that tests catch any element a kernel forgets to write. On Oclgrind the
    /// pattern is written from the host instead: its uninitialized-value checker keeps
    /// marking memory uninitialized after a fill command (and across a reused address)
    /// even once a kernel has written it, which gave false reports.
    func makeBuffer(bytes: Int) throws -> CLBuffer {
        let buffer = try CLBuffer(context: self, byteCount: CLBuffer.roundedSize(bytes))
        try poison(buffer)
        return buffer
    }

    /// Fills `buffer` with the poison pattern in debug builds (see `makeBuffer`).
    func poison(_ buffer: CLBuffer) throws {
        buffer.forgetHostCopy()
        #if DEBUG
        var pattern: UInt32 = 0xFBFF_FBFF
        if device.isSimulator {
            try [UInt32](repeating: pattern, count: buffer.byteCount / 4).withUnsafeBytes { try buffer.write($0) }
        } else {
            try serialized {
                try CLError.check(clEnqueueFillBuffer(queue, buffer.memory, &pattern, 4, 0, buffer.byteCount, 0, nil, nil),
                                  "clEnqueueFillBuffer")
            }
        }
        #endif
    }

    func makeBuffer<T>(_ values: UnsafeBufferPointer<T>) throws -> CLBuffer {
        let buffer = try makeBuffer(bytes: values.count * MemoryLayout<T>.stride)
        try buffer.write(UnsafeRawBufferPointer(values))
        return buffer
    }

    /// The pooled kernel object of `spec`, built (through the program caches) on first
    /// use. Call inside `serialized`: the object's arguments are shared state.
    func kernel(_ spec: KernelSpec, source: KernelSource) throws -> CLKernel {
        if let kernel = kernels[spec] { return kernel }
        let program = try programs.program(source, options: spec.buildOptions + device.requiredBuildOptions,
                                           context: context)
        guard let kernel = try CLKernel(program: program, name: spec.entry, fallback: source.signatures[spec.entry],
                                        device: device) else {
            throw FusedKernelsError.invalidKernelArguments(kernel: spec.entry, reason: "not declared in \(spec.file)")
        }
        kernels[spec] = kernel
        return kernel
    }

    /// Enqueues `kernel` over `grid`. Call inside `serialized`, right after binding.
    func enqueue(_ kernel: CLKernel, _ grid: Grid) throws -> CLEvent {
        let global = grid.global
        var event: cl_event?
        let status = global.withUnsafeBufferPointer { global in
            (grid.local ?? []).withUnsafeBufferPointer { local in
                clEnqueueNDRangeKernel(queue, kernel.kernel, cl_uint(global.count), nil, global.baseAddress,
                                       grid.local == nil ? nil : local.baseAddress, 0, nil, &event)
            }
        }
        try CLError.check(status, "clEnqueueNDRangeKernel(\(kernel.name), \(grid))")
        return CLEvent(event!, name: kernel.name)
    }

    func finish() throws {
        try CLError.check(clFinish(queue), "clFinish")
    }
}

/// The locks of `OpenCLContext.serialized`, one per key, created on first use.
private final class DeviceLocks: @unchecked Sendable {
    private let registry = NSLock()
    private var locks: [UInt: NSRecursiveLock] = [:]

    func lock(forKey key: UInt) -> NSRecursiveLock {
        registry.lock()
        defer { registry.unlock() }
        if let lock = locks[key] { return lock }
        let lock = NSRecursiveLock()
        locks[key] = lock
        return lock
    }
}

/// A device buffer; released when the last reference goes.
///
/// A small buffer written whole from the host keeps a host copy of its bytes until a kernel
/// may write it (it is bound to a parameter that is not `const`) or it is filled, and host
/// reads are served from that copy: the checks an op makes on small operands (targets,
/// upstream gradients, dlse, ALiBi slopes) then read where the data already is instead of
/// waiting for the queue.
final class CLBuffer: @unchecked Sendable {
    let memory: cl_mem
    let byteCount: Int
    private let context: OpenCLContext
    /// Buffers up to this size keep a host copy.
    static let hostCopyLimit = 1 << 20
    private let hostCopyLock = NSLock()
    private var hostCopy: [UInt8]?

    /// The size a buffer of `bytes` gets: whole floats, at least one.
    static func roundedSize(_ bytes: Int) -> Int { max((bytes + 3) / 4, 1) * 4 }

    init(context: OpenCLContext, byteCount: Int) throws {
        var status: cl_int = 0
        let created = context.serialized {
            clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), byteCount, nil, &status)
        }
        guard let memory = created else {
            throw CLError(status: status, call: "clCreateBuffer(\(byteCount) bytes)")
        }
        self.memory = memory
        self.byteCount = byteCount
        self.context = context
    }

    deinit { context.serialized { _ = clReleaseMemObject(memory) } }

    /// Copies `source` into the buffer from byte `offset` on (blocking).
    func write(_ source: UnsafeRawBufferPointer, at offset: Int = 0) throws {
        precondition(offset >= 0 && offset + source.count <= byteCount, "write past the buffer")
        guard let base = source.baseAddress, source.count > 0 else { return }
        forgetHostCopy()
        try context.serialized {
            try CLError.check(clEnqueueWriteBuffer(context.queue, memory, cl_bool(CL_TRUE), offset, source.count, base,
                                                   0, nil, nil), "clEnqueueWriteBuffer")
        }
        if offset == 0, source.count == byteCount, byteCount <= Self.hostCopyLimit {
            hostCopyLock.lock()
            hostCopy = [UInt8](source)
            hostCopyLock.unlock()
        }
    }

    /// Whether host reads are served from a host copy now.
    var hasHostCopy: Bool {
        hostCopyLock.lock()
        defer { hostCopyLock.unlock() }
        return hostCopy != nil
    }

    /// Drops the host copy: a kernel may write the buffer, or a fill did.
    func forgetHostCopy() {
        hostCopyLock.lock()
        hostCopy = nil
        hostCopyLock.unlock()
    }

    /// Copies the buffer's bytes from `offset` on into `target` (blocking).
    func read(into target: UnsafeMutableRawBufferPointer, from offset: Int = 0) throws {
        precondition(offset >= 0 && offset + target.count <= byteCount, "read past the buffer")
        guard let base = target.baseAddress, target.count > 0 else { return }
        hostCopyLock.lock()
        let copy = hostCopy
        hostCopyLock.unlock()
        if let copy {
            copy.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + offset, byteCount: target.count) }
            return
        }
        try context.serialized {
            try CLError.check(clEnqueueReadBuffer(context.queue, memory, cl_bool(CL_TRUE), offset, target.count, base,
                                                  0, nil, nil), "clEnqueueReadBuffer")
        }
    }

    /// `count` elements of `T` from element `index` on, as a new array.
    func readArray<T>(count: Int, from index: Int = 0, as type: T.Type = T.self) throws -> [T] {
        try [T](unsafeUninitializedCapacity: count) { elements, initialized in
            try read(into: UnsafeMutableRawBufferPointer(elements), from: index * MemoryLayout<T>.stride)
            initialized = count
        }
    }
}

/// A kernel object, pooled per spec by its context (arguments are bound under the
/// device lock: clSetKernelArg is not thread-safe), with its parameter list and what it
/// needs of the device, both read from the built kernel.
final class CLKernel {
    let kernel: cl_kernel
    let name: String
    let signature: KernelSignature
    let resources: KernelResources

    /// nil when the program has no kernel `name` (and `fallback`, the source's signature,
    /// is nil too, so the source does not declare it either).
    init?(program: cl_program, name: String, fallback: KernelSignature?, device: OpenCLDevice) throws {
        var status: cl_int = 0
        guard let kernel = clCreateKernel(program, name, &status) else {
            if status == CL_INVALID_KERNEL_NAME && fallback == nil { return nil }
            throw CLError(status: status, call: "clCreateKernel(\(name))")
        }
        guard let signature = KernelSignature.of(builtKernel: kernel, entry: name) ?? fallback else {
            clReleaseKernel(kernel)
            return nil
        }
        do {
            resources = try KernelResources(kernel, device: device)
        } catch {
            clReleaseKernel(kernel)
            throw error
        }
        self.kernel = kernel
        self.name = name
        self.signature = signature
    }

    deinit { clReleaseKernel(kernel) }
}

/// A launched command; its profiled duration is available once it completed.
final class CLEvent {
    let event: cl_event
    let name: String

    init(_ event: cl_event, name: String) {
        self.event = event
        self.name = name
    }

    deinit { clReleaseEvent(event) }

    /// Waits for completion and returns START→END in milliseconds.
    func milliseconds() throws -> Double {
        var event: cl_event? = self.event
        try CLError.check(clWaitForEvents(1, &event), "clWaitForEvents(\(name))")
        var start: cl_ulong = 0
        var end: cl_ulong = 0
        try CLError.check(clGetEventProfilingInfo(self.event, cl_profiling_info(CL_PROFILING_COMMAND_START),
                                                  MemoryLayout<cl_ulong>.size, &start, nil),
                          "clGetEventProfilingInfo")
        try CLError.check(clGetEventProfilingInfo(self.event, cl_profiling_info(CL_PROFILING_COMMAND_END),
                                                  MemoryLayout<cl_ulong>.size, &end, nil),
                          "clGetEventProfilingInfo")
        return Double(end &- start) / 1e6
    }
}
