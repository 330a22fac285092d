import Foundation

/// What the hardware under this engine can do, measured now: the rooflines that
/// `kernel-bench` judges every op against in the same run. Copy bandwidth is `copy`
/// (`Ops/Copy`); this file holds the compute peak and the cost of a launch.
extension Engine {
    /// GFLOP/s of the FMA-peak kernel in the shape `preset` picks (`auto`: the GPU shape on
    /// devices that are not CPUs), device time of the median of `repeat` runs. The CPU
    /// shape, `Kernels/roofline/fma.cl`, runs 12 independent float16 chains in each of
    /// 8 items per compute unit of a CPU device (2048 elsewhere), one item per group; the
    /// GPU shape, `Kernels/roofline/fma_scalar.cl`, runs 8 scalar chains in each of 2048
    /// items per compute unit, in work-groups of 256. On the CPU path the peak is what the
    /// BLAS reaches: an SGEMM of `size`³ (OpenBLAS there), whatever the preset.
    public func fmaPeak(repeat count: Int = 5, preset: KernelPreset = .auto) throws -> Double {
        guard let context else {
            let size = 1536
            let a = try tensor([Float](repeating: 0.5, count: size * size), shape: [size, size])
            let c = try empty(shape: [size, size], dtype: .float32)
            let seconds = try medianSeconds(count) { try matmul(a, a, into: c) }
            return 2 * Double(size * size * size) / seconds / 1e9
        }
        if usesGPUShape(preset, on: context.device) { return try gpuFMAPeak(repeat: count, on: context) }
        let items = context.device.computeUnits * (context.device.isCPU ? 8 : 2048)
        let iterations = context.device.isCPU ? 200_000 : 4096
        let chains = 12
        let out = try empty(shape: [items], dtype: .float32)
        guard case .device(let buffer) = out.storage.location else { return 0 }
        let spec = KernelSpec(file: "roofline/fma.cl", entry: "fma_peak", defines: ["FMA_CHAINS": chains, "WG_SIZE": 1])
        let run = {
            try self.launch(spec, .linear(items, groupSize: 1), [
                "out": .buffer(buffer), "iterations": .int(iterations), "a": .float(0.999_999), "b": .float(1e-3),
            ], on: context)
        }
        return try medianRate(count, flops: Double(items) * Double(iterations) * Double(chains * 16 * 2), run)
    }

    /// `fma_peak_scalar`: 2048 items per compute unit (8 groups of 256, what a GPU's
    /// multiprocessor keeps resident), 32768 steps of 8 chains (milliseconds per run on
    /// a large GPU, so the launch cost does not count).
    private func gpuFMAPeak(repeat count: Int, on context: OpenCLContext) throws -> Double {
        let group = min(Engine.gpuGroupSize, context.device.maxWorkGroupSize)
        let items = context.device.computeUnits * 2048 / group * group
        let (iterations, chains) = (32768, 8)
        let out = try empty(shape: [items], dtype: .float32)
        guard case .device(let buffer) = out.storage.location else { return 0 }
        let spec = KernelSpec(file: "roofline/fma_scalar.cl", entry: "fma_peak_scalar",
                              defines: ["FMA_CHAINS": chains, "WG_SIZE": group])
        let run = {
            try self.launch(spec, .linear(items, groupSize: group), [
                "out": .buffer(buffer), "iterations": .int(iterations), "a": .float(0.999_999), "b": .float(1e-3),
            ], on: context)
        }
        return try medianRate(count, flops: Double(items) * Double(iterations) * Double(chains * 2), run)
    }

    /// GFLOP/s of `flops` per run at the median device time of `count` profiled runs,
    /// after one untimed run (the compile).
    private func medianRate(_ count: Int, flops: Double, _ run: () throws -> Void) throws -> Double {
        try run()
        var samples: [Double] = []
        for _ in 0 ..< count { samples.append(try profile(run).reduce(0) { $0 + $1.milliseconds } / 1e3) }
        return flops / samples.sorted()[samples.count / 2] / 1e9
    }

    /// Microseconds from enqueueing an empty kernel to its completion seen by the host
    /// (median of `repeat`): the fixed cost every launch pays. Nil on the CPU path.
    public func launchLatency(repeat count: Int = 50) throws -> Double? {
        guard let context else { return nil }
        let out = try empty(shape: [1], dtype: .float32)
        guard case .device(let buffer) = out.storage.location else { return nil }
        let spec = KernelSpec(file: "roofline/fma.cl", entry: "empty_kernel")
        let run = {
            try self.launch(spec, .linear(1, groupSize: 1), ["out": .buffer(buffer)], on: context)
            try wrapCL { try context.serialized { try context.finish() } }
        }
        try run()
        return try medianSeconds(count, run) * 1e6
    }

    private func medianSeconds(_ count: Int, _ body: () throws -> Void) throws -> Double {
        var samples: [Double] = []
        for _ in 0 ..< max(count, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return samples.sorted()[samples.count / 2]
    }
}
