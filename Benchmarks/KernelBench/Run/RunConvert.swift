import ArgumentParser
import FusedKernels

struct RunConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "x (in --dtype) converted to another floating storage type: round to nearest even, NaN stays NaN.",
        discussion: "Written as <f2 for float16, else <f4 (bfloat16 values widened exactly).")

    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("x.", valueName: "file")) var x: String
    @Option(help: "float32, float16 or bfloat16 (or fp32, fp16, bf16).") var to: String
    @Option(help: ArgumentHelp("y, x's shape.", valueName: "file")) var out: String

    func validate() throws { _ = try target() }

    func run() throws {
        let target = try target()
        let session = try RunSession(common)
        let x = try session.read(self.x, flag: "x", argument: "x")
        let out = try session.output(out, flag: "out")
        try session.run { engine in [(out, .tensor(try engine.convert(try x.tensor(on: engine), to: target)))] }
    }

    private func target() throws -> DType {
        guard let target = try? floatingDType(to) else {
            throw ValidationError("--to must be float32, float16 or bfloat16 (or fp32, fp16, bf16), got \(to)")
        }
        return target
    }
}

struct RunCopy: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "copy", abstract: "A contiguous copy of x.")

    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("x.", valueName: "file")) var x: String
    @Flag(help: "Plain stores on OpenCL instead of streaming (non-temporal) ones.") var plainStores = false
    @Option(help: ArgumentHelp("y, x's shape.", valueName: "file")) var out: String

    func run() throws {
        let session = try RunSession(common)
        let x = try session.read(self.x, flag: "x", argument: "x")
        let out = try session.output(out, flag: "out")
        try session.run { engine in
            let x = try x.tensor(on: engine)
            let y = try engine.empty(shape: x.shape, dtype: x.dtype)
            try engine.copy(x, into: y, streamingStores: !plainStores)
            return [(out, .tensor(y))]
        }
    }
}
