import ArgumentParser
import Foundation
import FusedKernels

/// `kernel-bench parity`: the cross-device parity tests, runnable outside the test suite,
/// so that a user can check their own device. Every op × option × dtype on small odd
/// shapes, on each OpenCL device, against the CPU path given the same host data.
///
/// Tolerances: a device value a passes against the CPU path's b when
/// |a − b| ≤ atol + rtol·|b|; NaN must meet NaN, ±inf the same infinity, top-k indices
/// must be equal. rtol is the storage type's (fp32 1e-5, fp16 2⁻¹⁰, bf16 2⁻⁷), plus
/// 2⁻²²·√cols for a probability's row sum; atol is u·√K times the output's largest
/// value for sums of K products (matmul, cross-entropy, attention, backward passes; u
/// 2⁻²⁰ in fp32, the storage type's unit roundoff in fp16 and bf16),
/// 2⁻²⁰·(8 + √cols) for log-domain outputs, and 0 for conversions and copies. Each case
/// reports the largest |a − b| / (atol + rtol·|b|) over its outputs (≤ 1 passes).
struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check each OpenCL device against the CPU path: every op, option and dtype on small odd shapes.",
        discussion: """
            A device value a passes against the CPU path's b when |a − b| ≤ atol + rtol·|b| (NaN must \
            meet NaN, ±inf the same infinity, top-k indices must be equal). rtol: the storage type's, fp32 \
            1e-5, fp16 2^-10, bf16 2^-7 (plus 2^-22·√cols for softmax probabilities); atol: u·√K × the \
            output's largest value for sums of K products (matmul, cross-entropy, attention, backward \
            passes; u = 2^-20 in fp32, 2^-11 in fp16, 2^-8 in bf16), 2^-20·(8 + √cols) for log-softmax and log-sum-exp, 0 for convert and copy. Each case \
            reports max |a − b| / (atol + rtol·|b|) over its outputs: ≤ 1 passes. On a simulator (Oclgrind) \
            cases over \(ParityRunner.simulatorSizeLimit) elements are skipped and listed. Exit status 1 \
            when any case fails, or when no OpenCL device is selected.
            """)

    @Option(help: "cpu, opencl, opencl:N or a device-name substring; default: every OpenCL device.")
    var device: String?
    @Option(help: "The engine-wide preset: auto (by device type), cpu or gpu (the GPU kernels on any device).")
    var preset = KernelPreset.auto
    @Option(help: "Only these ops, comma-separated (e.g. softmax,softmaxTopK); default: every op.")
    var ops: String?
    @Flag(help: "One JSON object per case and device instead of the table.") var json = false
    @Flag(help: "A quick set: float32 only, the first \(ParityCase.quickCasesPerOp) cases of each op (a GPU check's short slot).")
    var quick = false

    func run() throws {
        let selected = try ParityCase.selected(ops)
        let cases = quick ? ParityCase.quick(selected) : selected
        let engines = try parityEngines(device, preset: preset)
        guard !engines.isEmpty else {
            FileHandle.standardError.write(Data("kernel-bench parity: no OpenCL device \(device.map { "matches \($0)" } ?? "found"): nothing was checked\n".utf8))
            throw ExitCode(1)
        }
        let runner = try ParityRunner(cases: cases, preset: preset)
        var table = ParityTable()
        for engine in engines {
            let start = DispatchTime.now().uptimeNanoseconds
            table.records += runner.run(on: engine) {
                guard json else { return }
                print(jsonLine($0))
                fflush(nil)  // each case reaches a pipe as it ends (run-gpu-check.sh's time limits)
            }
            table.seconds[engine.backend.description] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        Progress.clear()
        if !json { table.lines().forEach { print($0) } }
        if table.records.contains(where: \.failed) { throw ExitCode(1) }
    }
}

/// The OpenCL devices `--device` selects (all when nil), each on a strict engine
/// (`opencl:N`) with `preset`: a kernel that fails to build is then an error, never a
/// silent CPU-path result that would match the reference trivially. Empty when the
/// selector lands on the CPU path.
func parityEngines(_ selector: String?, preset: KernelPreset) throws -> [Engine] {
    let devices: [OpenCLDevice]
    if let selector {
        guard case let .opencl(device) = try Engine(device: selector).backend else { return [] }
        devices = [device]
    } else {
        devices = try Engine.devices()
    }
    return try devices.map { try Engine(device: "opencl:\($0.index)", preset: preset) }
}
