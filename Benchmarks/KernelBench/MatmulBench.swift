import ArgumentParser
import Foundation
import FusedKernels
#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif

struct MatmulBench: BenchFamily {
    static let configuration = CommandConfiguration(
        commandName: "matmul",
        abstract: "Time C = op(A)·op(B) against the same run's FMA roofline and a direct BLAS call.")

    static var suiteArguments: [[String]] { [256, 512, 1024, 2048].map { ["--m", "\($0)", "--n", "\($0)", "--k", "\($0)"] } }

    @Option(help: "Rows of op(A) and C.") var m = 2048
    @Option(help: "Columns of op(B) and C.") var n = 2048
    @Option(help: "The shared dimension.") var k = 2048
    @Flag(help: "A is stored [k, m].") var transposeA = false
    @Flag(help: "B is stored [n, k] (the A·Bᵀ of a classifier head).") var transposeB = false
    @Option(help: "Batched matrices (A, B and C get a leading axis).") var batch: Int?
    @Option(help: "Storage of A, B and C: float32, float16 or bfloat16 (accumulation is fp32).") var dtype = "float32"
    @Option(help: "Kernel tiles on OpenCL: auto (by device type), cpu or gpu.") var preset = "auto"
    @Option(help: deviceHelp) var device: String?
    @Option(help: "Timed repetitions after one warm-up.") var `repeat` = 5
    @OptionGroup var output: OutputOptions

    func records(on engines: [Engine], context: BenchContext) throws -> [BenchRecord] {
        guard let dtype = DType(rawValue: dtype), dtype.isFloatingPoint else {
            throw ValidationError("--dtype must be float32, float16 or bfloat16")
        }
        guard let preset = KernelPreset(rawValue: preset) else { throw ValidationError("--preset must be auto, cpu or gpu") }
        guard m >= 1, n >= 1, k >= 1, (batch ?? 1) >= 1, `repeat` >= 1 else { throw ValidationError("sizes must be ≥ 1") }
        let batchAxis = batch.map { [$0] } ?? []
        let aShape = batchAxis + (transposeA ? [k, m] : [m, k])
        let bShape = batchAxis + (transposeB ? [n, k] : [k, n])
        let aValues = benchmarkInput(count: aShape.reduce(1, *)).map { dtype.round($0 / 8) }
        let bValues = benchmarkInput(count: bShape.reduce(1, *), seed: 7).map { dtype.round($0 / 8) }
        let flops = 2 * Double(m) * Double(n) * Double(k) * Double(batch ?? 1)
        let blas = try blasRate(aValues, bValues, flops: flops)
        let cpu = try Engine(device: "cpu")
        let reference = try cpu.matmul(try tensor(aValues, shape: aShape, dtype: dtype, on: cpu),
                                       try tensor(bValues, shape: bShape, dtype: dtype, on: cpu),
                                       transposeA: transposeA, transposeB: transposeB).array(of: Float.self)
        let variant = preset.rawValue + (transposeA ? " Aᵀ" : "") + (transposeB ? " Bᵀ" : "")
        return try engines.map { engine in
            Progress.show("matmul \(m)x\(n)x\(k) on \(engine.backend)")
            let a = try tensor(aValues, shape: aShape, dtype: dtype, on: engine)
            let b = try tensor(bValues, shape: bShape, dtype: dtype, on: engine)
            let c = try engine.empty(shape: batchAxis + [m, n], dtype: dtype)
            let time = try measure(engine, repeat: `repeat`) {
                try engine.matmul(a, b, into: c, transposeA: transposeA, transposeB: transposeB, preset: preset)
            }
            let gflops = flops / time.median / 1e6
            return BenchRecord(
                family: Self.family, op: "matmul", variant: variant, dtype: dtype, shape: [batch ?? 1, m, n, k],
                engine: engine, timings: time, unit: .gigaflops, work: flops, roofline: try context.fmaRoofline(engine),
                maxError: normwiseError(try c.array(of: Float.self), reference), errorMetric: "normwise",
                details: ["blas_gflops": .number(blas), "fraction_of_blas": .number(gflops / blas)])
        }
    }

    /// GFLOP/s of `cblas_sgemm` called directly on dense fp32 copies of the same operands
    /// (one call per batch), median of the repetitions: the CPU baseline of this run.
    private func blasRate(_ a: [Float], _ b: [Float], flops: Double) throws -> Double {
        var c = [Float](repeating: 0, count: (batch ?? 1) * m * n)
        let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
        let call = {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        for z in 0 ..< (self.batch ?? 1) {
                            cblas_sgemm(CblasRowMajor, self.transposeA ? CblasTrans : CblasNoTrans,
                                        self.transposeB ? CblasTrans : CblasNoTrans, Int32(self.m), Int32(self.n),
                                        Int32(self.k), 1, a.baseAddress! + z * self.m * self.k, Int32(lda),
                                        b.baseAddress! + z * self.k * self.n, Int32(ldb), 0,
                                        c.baseAddress! + z * self.m * self.n, Int32(self.n))
                        }
                    }
                }
            }
        }
        // A CPU-path engine makes `measure` time with the monotonic clock.
        let time = try measure(try Engine(device: "cpu"), repeat: `repeat`) { call() }
        return flops / time.median / 1e6
    }
}

/// max |c − ref| / max |ref|: matmul errors scale with the row's magnitudes, not each element's.
func normwiseError(_ actual: [Float], _ expected: [Float]) -> Double {
    let scale = Double(expected.map(abs).max() ?? 0)
    let worst = zip(actual, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
    return scale == 0 ? worst : worst / scale
}
