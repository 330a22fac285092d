import Foundation
import Testing
@testable import FusedKernels

/// The roofline kernels' two shapes: `copy` in the CPU shape (`copy.cl`) and the GPU
/// shape (`copy_coalesced.cl`, a grid-stride loop of float4s plus a scalar tail) must be
/// exact on every backend, sizes that leave every tail length, fp32 and fp16 (a 2-byte
/// dtype, copied as whole floats over the padded buffer); and the GPU-shaped FMA peak
/// must give a rate on a real PoCL device (the CPU path ignores the preset).
@Suite struct RooflineShapeTests {
    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let preset: KernelPreset
        let dtype: DType
        var testDescription: String { "\(backend.label) \(preset) \(dtype)" }
    }

    static let runs: [Run] = TestBackend.all.flatMap { backend in
        [KernelPreset.cpu, .gpu].flatMap { preset in
            [DType.float32, .float16].map { Run(backend: backend, preset: preset, dtype: $0) }
        }
    }

    /// 1–3 floats (tail only), one float4 and a tail, past a 256-item group, past 8 groups
    /// on a small device (items loop), and past a CPU-shape block (32768 floats).
    static let sizes = [1, 2, 3, 4, 17, 1000, 4099, 19_999, 65_537, 1_000_003]

    @Test(arguments: runs)
    func copyIsExact(run: Run) throws {
        let engine = try run.backend.engine()
        for count in Self.sizes where count <= run.backend.elementBudget {
            let values = randomValues(count, seed: UInt64(count)).map(run.dtype.round)
            let x = try tensor(values, run.dtype, engine)
            for streaming in [true, false] {
                let y = try tensor([Float](repeating: poison, count: count), run.dtype, engine)
                try engine.copy(x, into: y, streamingStores: streaming, preset: run.preset)
                #expect(try bits(y) == bits(values, run.dtype), "\(run.testDescription) n=\(count) streaming=\(streaming)")
            }
            #expect(try bits(try engine.copy(x, preset: run.preset)) == bits(values, run.dtype),
                    "\(run.testDescription) n=\(count) fresh")
        }
    }

    /// On PoCL's devices (Oclgrind would interpret 2048 items × 32768 steps per unit).
    @Test(arguments: TestBackend.all.filter { !$0.isSimulator })
    func gpuShapedFMAPeakGivesARate(backend: TestBackend) throws {
        let rate = try backend.engine().fmaPeak(repeat: 1, preset: .gpu)
        #expect(rate.isFinite && rate > 0, "\(backend.label): \(rate) GFLOP/s")
    }

    func tensor(_ values: [Float], _ dtype: DType, _ engine: Engine) throws -> Tensor {
        dtype == .float16 ? try engine.tensor(values.map(Float16.init), shape: [values.count])
            : try engine.tensor(values, shape: [values.count])
    }

    func bits(_ x: Tensor) throws -> [UInt32] {
        x.dtype == .float16 ? try x.array(of: Float16.self).map { UInt32($0.bitPattern) }
            : try x.array(of: Float.self).map(\.bitPattern)
    }

    func bits(_ values: [Float], _ dtype: DType) -> [UInt32] {
        dtype == .float16 ? values.map { UInt32(Float16($0).bitPattern) } : values.map(\.bitPattern)
    }
}
