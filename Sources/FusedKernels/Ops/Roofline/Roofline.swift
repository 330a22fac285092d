import Foundation

/// What the hardware under this engine can do, measured now: the rooflines that
/// `kernel-bench` judges every op against in the same run. Copy bandwidth is `copy`
/// (`Ops/Copy`); this file holds the compute peak and the cost of a launch.
extension Engine {
    /// GFLOP/s of `Kernels/roofline/fma.cl` (independent float16 FMA chains, enough items
    /// for every compute unit), device time of the median of `repeat` runs. On the CPU
    /// path the peak is what the BLAS reaches: an SGEMM of `size`³ (OpenBLAS there).
    public func fmaPeak(repeat count: Int = 5) throws -> Double {
        guard let context else {
            let size = 1536
            let a = try tensor([Float](repeating: 0.5, count: size * size), shape: [size, size])
            let c = try empty(shape: [size, size], dtype: .float32)
            let seconds = try medianSeconds(count) { try matmul(a, a, into: c) }
            return 2 * Double(size * size * size) / seconds / 1e9
        }
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
        try run()
        var samples: [Double] = []
        for _ in 0 ..< count { samples.append(try profile(run).reduce(0) { $0 + $1.milliseconds } / 1e3) }
        return Double(items) * Double(iterations) * Double(chains * 16 * 2) / samples.sorted()[samples.count / 2] / 1e9
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
