import COpenCL
import Foundation

/// A context and an in-order, profiling command queue on one device, plus the
/// programs built for it. Thread-safe: OpenCL queues and contexts are.
final class OpenCLContext: @unchecked Sendable {
    let device: OpenCLDevice
    let context: cl_context
    let queue: cl_command_queue
    let programs: ProgramCache

    /// Oclgrind's runtime is not thread-safe (Oclgrind issues #28 and #202: concurrent
    /// contexts lose kernel writes and corrupt its heap), so every call into a
    /// simulator goes through one process-wide lock; other drivers run concurrently.
    private static let simulatorLock = NSRecursiveLock()

    static func serialized<T>(_ device: OpenCLDevice, _ body: () throws -> T) rethrows -> T {
        guard device.isSimulator else { return try body() }
        simulatorLock.lock()
        defer { simulatorLock.unlock() }
        return try body()
    }

    func serialized<T>(_ body: () throws -> T) rethrows -> T { try Self.serialized(device, body) }

    init(device: OpenCLDevice) throws {
        self.device = device
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
            programs.releaseAll()
            clReleaseCommandQueue(queue)
            clReleaseContext(context)
        }
    }

    /// A buffer of at least `bytes`, rounded up to whole floats (copy kernels move floats).
    /// Debug builds fill it with a poison pattern (−65504 as fp16, −2.7e36 as fp32 and
    /// bf16) so that tests catch any element a kernel forgets to write.
    func makeBuffer(bytes: Int) throws -> CLBuffer {
        let buffer = try CLBuffer(context: self, byteCount: max((bytes + 3) / 4, 1) * 4)
        #if DEBUG
        var pattern: UInt32 = 0xFBFF_FBFF
        try serialized {
            try CLError.check(clEnqueueFillBuffer(queue, buffer.memory, &pattern, 4, 0, buffer.byteCount, 0, nil, nil),
                              "clEnqueueFillBuffer")
        }
        #endif
        return buffer
    }

    func makeBuffer<T>(_ values: UnsafeBufferPointer<T>) throws -> CLBuffer {
        let buffer = try makeBuffer(bytes: values.count * MemoryLayout<T>.stride)
        try buffer.write(values)
        return buffer
    }

    /// Enqueues `kernel` over a 1-D range; `global` is rounded up to a multiple of `local`.
    func enqueue(_ kernel: CLKernel, global: Int, local: Int?) throws -> CLEvent {
        var globalSize = global
        var localSize = local ?? 0
        if let local { globalSize = (global + local - 1) / local * local }
        var event: cl_event?
        let status = withUnsafePointer(to: &localSize) { localPointer in
            clEnqueueNDRangeKernel(queue, kernel.kernel, 1, nil, &globalSize,
                                   local == nil ? nil : localPointer, 0, nil, &event)
        }
        try CLError.check(status, "clEnqueueNDRangeKernel(\(kernel.name))")
        return CLEvent(event!, name: kernel.name)
    }

    func finish() throws {
        try CLError.check(clFinish(queue), "clFinish")
    }
}

/// A device buffer; released when the last reference goes.
final class CLBuffer: @unchecked Sendable {
    let memory: cl_mem
    let byteCount: Int
    private let context: OpenCLContext

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

    func write<T>(_ values: UnsafeBufferPointer<T>) throws {
        let bytes = values.count * MemoryLayout<T>.stride
        precondition(bytes <= byteCount)
        guard bytes > 0, let base = values.baseAddress else { return }
        try context.serialized {
            try CLError.check(clEnqueueWriteBuffer(context.queue, memory, cl_bool(CL_TRUE), 0, bytes, base, 0, nil, nil),
            "clEnqueueWriteBuffer")
        }
    }

    /// The first `count` elements as a new array.
    func readArray<T>(count: Int, as type: T.Type = T.self) throws -> [T] {
        try [T](unsafeUninitializedCapacity: count) { elements, initialized in
            try read(into: UnsafeMutableBufferPointer(start: elements.baseAddress, count: count))
            initialized = count
        }
    }

    func read<T>(into values: UnsafeMutableBufferPointer<T>) throws {
        let bytes = values.count * MemoryLayout<T>.stride
        precondition(bytes <= byteCount)
        guard bytes > 0, let base = values.baseAddress else { return }
        try context.serialized {
            try CLError.check(clEnqueueReadBuffer(context.queue, memory, cl_bool(CL_TRUE), 0, bytes, base, 0, nil, nil),
            "clEnqueueReadBuffer")
        }
    }
}

/// A kernel object; owned by one launch at a time (clSetKernelArg is not thread-safe).
final class CLKernel {
    let kernel: cl_kernel
    let name: String

    init(program: cl_program, name: String) throws {
        var status: cl_int = 0
        guard let kernel = clCreateKernel(program, name, &status) else {
            throw CLError(status: status, call: "clCreateKernel(\(name))")
        }
        self.kernel = kernel
        self.name = name
    }

    deinit { clReleaseKernel(kernel) }

    func setArg(_ index: Int, _ buffer: CLBuffer?) throws {
        var memory: cl_mem? = buffer?.memory
        let status = buffer == nil
            ? clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, nil)
            : clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &memory)
        try CLError.check(status, "clSetKernelArg(\(name), \(index))")
    }

    func setArg<T: BitwiseCopyable>(_ index: Int, _ value: T) throws {
        var value = value
        try CLError.check(
            clSetKernelArg(kernel, cl_uint(index), MemoryLayout<T>.size, &value),
            "clSetKernelArg(\(name), \(index))")
    }
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
