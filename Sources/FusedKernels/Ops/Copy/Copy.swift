import Foundation

/// Copies: the bandwidth roofline that memory-bound kernels are judged against
/// (`Kernels/copy/copy.cl` on CPU devices, `Kernels/copy/copy_coalesced.cl` on GPUs, a
/// multithreaded memcpy on the CPU path), and the
/// contiguous copy of any view (`Kernels/copy/strided.cl`) that ops make of operands
/// whose strides a kernel cannot take.
extension Engine {
    /// float16 vectors each work-item copies; 1024–8192 measured equal on PoCL, 2048 kept.
    static let copyVectorsPerItem = 2048

    /// Work-items per group of the GPU-shaped copy and FMA-peak kernels.
    static let gpuGroupSize = 256

    /// A new contiguous tensor with the elements of the view `x`, copied by the kernel
    /// `preset` picks (see ``copy(_:into:streamingStores:preset:)``).
    public func copy(_ x: Tensor, preset: KernelPreset = .auto) throws -> Tensor {
        try checkOwner(x, "x")
        let y = try empty(shape: x.shape, dtype: x.dtype)
        try runCopy(x, into: y, streamingStores: true, preset: preset)
        return y
    }

    /// Copies the view `x` into `y`: a contiguous tensor of x's shape and dtype that
    /// shares no storage with x. On OpenCL a contiguous `x` is copied in the shape
    /// `preset` picks: the CPU shape (each work-item one long block with 16-wide vectors)
    /// or the GPU shape (work-groups of 256 moving adjacent 16-byte pieces, a
    /// grid-stride loop); `auto` is the GPU shape on devices that are not CPUs.
    /// `streamingStores` only matters in the CPU shape: it writes with non-temporal
    /// stores, which skip reading each destination line first (≈2× the bandwidth on a
    /// CPU device); turn them off when the copy is read again at once.
    @discardableResult
    public func copy(_ x: Tensor, into y: Tensor, streamingStores: Bool = true,
                     preset: KernelPreset = .auto) throws -> Backend {
        try checkOwner(x, "x")
        try checkOutput(y, "y", shape: x.shape, dtype: x.dtype, inputs: [x])
        guard y.isContiguous else {
            throw FusedKernelsError.invalidArgument(argument: "y", reason: "must be contiguous")
        }
        return try runCopy(x, into: y, streamingStores: streamingStores, preset: preset)
    }

    @discardableResult
    private func runCopy(_ x: Tensor, into y: Tensor, streamingStores: Bool, preset: KernelPreset) throws -> Backend {
        try dispatch("copy", openCL: { context in
            let (source, target) = (try x.deviceBuffer("x"), try y.deviceBuffer("y"))
            let bytes = x.count * x.dtype.byteCount
            guard x.isContiguous, x.offset == 0, y.offset == 0 else {
                return try encodeStridedCopy(x, into: target, at: y.offset, on: context)
            }
            // The CPU shape moves whole floats: an odd count of a 2-byte type would copy
            // the buffer's uninitialised padding, so it takes the element-exact kernel.
            if usesGPUShape(preset, on: context.device) || bytes % 4 != 0 {
                return try encodeCoalescedCopy(source, into: target, count: x.count, elementBytes: x.dtype.byteCount,
                                               on: context)
            }
            // A 2-byte dtype copies half as many floats.
            let n = (bytes + 3) / 4
            let spec = KernelSpec(file: "copy/copy.cl", entry: "copy_float", defines: [
                "COPY_VECS": Engine.copyVectorsPerItem, "WG_SIZE": 1, "FK_NT_STORE": streamingStores ? 1 : 0,
            ])
            let items = (n + 16 * Engine.copyVectorsPerItem - 1) / (16 * Engine.copyVectorsPerItem)
            try launch(spec, .linear(items, groupSize: 1), ["src": .buffer(source), "dst": .buffer(target), "n": .int(n)],
                       on: context)
        }, cpu: {
            try hostCopy(x, into: y)
        }).1
    }

    /// `copy_coalesced` of `count` elements: enough groups to keep every compute unit busy
    /// (8 per unit), no more than the 16-byte pieces need.
    private func encodeCoalescedCopy(_ source: CLBuffer, into target: CLBuffer, count: Int, elementBytes: Int,
                                     on context: OpenCLContext) throws {
        let group = min(Engine.gpuGroupSize, context.device.maxWorkGroupSize)
        let pieces = count * elementBytes / 16
        let groups = max(1, min((pieces + group - 1) / group, 8 * context.device.computeUnits))
        let spec = KernelSpec(file: "copy/copy_coalesced.cl", entry: "copy_coalesced",
                              defines: ["ELEM_BYTES": elementBytes, "WG_SIZE": group])
        try launch(spec, .linear(groups * group, groupSize: group),
                   ["src": .buffer(source), "dst": .buffer(target), "n": .int64(Int64(count))], on: context)
    }

    /// A contiguous device copy of the view `x` (for operands a kernel cannot take as is).
    func contiguousCopy(_ x: Tensor, on context: OpenCLContext) throws -> Tensor {
        let y = try empty(shape: x.shape, dtype: x.dtype)
        guard case .device(let target) = y.storage.location else { return y }
        try encodeStridedCopy(x, into: target, at: 0, on: context)
        return y
    }

    /// `copy_strided`: x's elements in row-major order into `target` from element `offset` on.
    private func encodeStridedCopy(_ x: Tensor, into target: CLBuffer, at offset: Int64,
                                   on context: OpenCLContext) throws {
        let source = try x.deviceBuffer("x")
        let spec = KernelSpec(file: "copy/strided.cl", entry: "copy_strided", defines: ["ELEM_BYTES": x.dtype.byteCount])
        try launch(spec, .linear(x.count / x.shape[x.rank - 1], groupSize: 1), [
            "src": .buffer(source), "dst": .buffer(target), "src_offset": .int64(x.offset), "dst_offset": .int64(offset),
        ] + x.viewArguments, on: context)
    }

    /// The CPU path's copy (and a fallback's): one memcpy split across cores when both
    /// views are dense host memory, else an element-by-element gather.
    private func hostCopy(_ x: Tensor, into y: Tensor) throws {
        let size = x.dtype.byteCount
        if x.isContiguous, case .host(let source) = x.storage.location, case .host(let target) = y.storage.location {
            parallelCopy(source.bytes + Int(x.offset) * size, target.bytes + Int(y.offset) * size, bytes: x.count * size)
            return
        }
        switch size {
        case 1: try y.storeElements(try x.storedElements(UInt8.self))
        case 2: try y.storeElements(try x.storedElements(UInt16.self))
        default: try y.storeElements(try x.storedElements(UInt32.self))
        }
    }
}

extension Tensor {
    /// The view as 4-D (leading extents 1): the `d0`…`d3`, `s0`…`s3` arguments of the
    /// row-per-item kernels `copy/strided.cl` and `copy/convert.cl`.
    var viewArguments: KernelArguments {
        let shape = [Int](repeating: 1, count: 4 - rank) + shape
        let strides = [Int64](repeating: 0, count: 4 - rank) + strides
        return ["d0": .int(shape[0]), "d1": .int(shape[1]), "d2": .int(shape[2]), "d3": .int(shape[3]),
                "s0": .int64(strides[0]), "s1": .int64(strides[1]), "s2": .int64(strides[2]), "s3": .int64(strides[3])]
    }
}

/// memcpy split across all cores (one core cannot saturate memory bandwidth).
private func parallelCopy(_ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, bytes: Int) {
    let tasks = bytes < 1 << 18 ? 1 : ProcessInfo.processInfo.activeProcessorCount
    let shared = UncheckedSendable((source, target))
    DispatchQueue.concurrentPerform(iterations: tasks) { task in
        let (source, target) = shared.value
        let start = bytes * task / tasks
        let end = bytes * (task + 1) / tasks
        (target + start).copyMemory(from: source + start, byteCount: end - start)
    }
}
