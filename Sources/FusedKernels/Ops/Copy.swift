import Foundation

/// A plain copy: the bandwidth roofline that memory-bound kernels are judged against
/// (`Kernels/copy.cl` on OpenCL, a multithreaded memcpy on the CPU path).
extension Engine {
    /// float16 vectors each work-item copies; 1024–8192 measured equal on PoCL, 2048 kept.
    static let copyVectorsPerItem = 2048

    /// A new tensor with the same contents as `x`.
    public func copy(_ x: DeviceTensor) throws -> DeviceTensor {
        try checkOwner(x, "x")
        let y = try emptyTensor(x.shape, x.dtype)
        try copy(x, into: y)
        return y
    }

    /// Copies `x` into an existing tensor of the same shape and dtype. On OpenCL,
    /// `streamingStores` writes with non-temporal stores, which skip reading each
    /// destination line first (≈2× the bandwidth on a CPU device); turn them off when
    /// the copy is read again at once, while it would still be in cache.
    public func copy(_ x: DeviceTensor, into y: DeviceTensor, streamingStores: Bool = true) throws {
        try checkOutput(y, for: x, shape: x.shape)
        // The kernel moves whole floats: a 2-byte dtype copies half as many (buffers are padded).
        let n = (x.shape.count * x.dtype.byteCount + 3) / 4
        _ = try dispatch("copy", openCL: { context in
            let kernel = try kernel("copy_float", file: "copy.cl",
                                    options: ["-DCOPY_VECS=\(Engine.copyVectorsPerItem)", "-DWG_SIZE=1",
                                              "-DFK_NT_STORE=\(streamingStores ? 1 : 0)"], on: context)
            try kernel.setArg(0, x.buffer)
            try kernel.setArg(1, y.buffer)
            try kernel.setArg(2, Int32(n))
            let items = (n + 16 * Engine.copyVectorsPerItem - 1) / (16 * Engine.copyVectorsPerItem)
            record(try context.enqueue(kernel, global: items, local: 1))
        }, cpu: {
            try onHost(inputs: [x], output: y) { inputs, output in parallelCopy(inputs[0], output, count: x.shape.count) }
        })
    }
}

/// memcpy split across all cores (one core cannot saturate memory bandwidth).
private func parallelCopy(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, count: Int) {
    let tasks = count < 1 << 16 ? 1 : ProcessInfo.processInfo.activeProcessorCount
    let shared = UncheckedSendable((source, target))
    DispatchQueue.concurrentPerform(iterations: tasks) { task in
        let (source, target) = shared.value
        let start = count * task / tasks
        let end = count * (task + 1) / tasks
        (target + start).update(from: source + start, count: end - start)
    }
}
