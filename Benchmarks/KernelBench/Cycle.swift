import ArgumentParser
import FusedKernels

/// For leak checks (`make leakcheck`): engines created, used and destroyed in a loop,
/// so that valgrind's totals for 1 and for N cycles can be compared.
struct Cycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an engine, run softmax forward and backward, destroy it; repeat.")

    @Option(help: "Engines to create and destroy.") var count = 1
    @Option(help: "cpu, opencl, opencl:N or a device-name substring.") var device = "opencl"

    func run() throws {
        let input = benchmarkInput(count: 800)
        for _ in 0 ..< count {
            let engine = try Engine(device: device)
            let x = try engine.tensor(input, shape: [8, 100])
            let keep = try engine.tensor([Bool](repeating: true, count: 100), shape: [100])
            let y = try engine.softmax(x, kind: .logSoftmax, options: SoftmaxOptions(keepMask: keep))
            _ = try engine.softmaxBackward(output: y, gradient: x, kind: .logSoftmax).array(of: Float.self)
            _ = try engine.copy(x).array(of: Float.self)
        }
        print("\(count) engine cycles done")
    }
}
