import ArgumentParser
import FusedKernels

struct RunNormalizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalizer",
        abstract: "The online normalizer's per-row statistics of z: m = max z, d = Σ e^(z − m), and m + log d.",
        discussion: "Each output is <f4 of x's shape with the last extent 1.")

    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("x, rank 1-4.", valueName: "file")) var x: String
    @OptionGroup var softmax: SoftmaxFlags
    @Option(help: ArgumentHelp("m, the row maxima.", valueName: "file")) var maxOut: String?
    @Option(help: ArgumentHelp("d, the row sums.", valueName: "file")) var sumOut: String?
    @Option(help: ArgumentHelp("The log-sum-exp m + log d.", valueName: "file")) var lseOut: String?

    func run() throws {
        let session = try RunSession(common)
        let x = try session.read(self.x, flag: "x", argument: "x")
        let masks = try softmax.masks.read(session)
        let maxOut = try session.output(maxOut, flag: "max-out")
        let sumOut = try session.output(sumOut, flag: "sum-out")
        let lseOut = try session.output(lseOut, flag: "lse-out")
        let shape = Array(x.array.shape.dropLast()) + [1]
        try session.run { engine in
            let options = try softmax.options(masks, on: engine)
            let statistics = try engine.normalizer(try x.tensor(on: engine), options: options)
            return [(maxOut, .floats(statistics.max, shape: shape)), (sumOut, .floats(statistics.sum, shape: shape)),
                    (lseOut, .floats(statistics.logSumExp, shape: shape))]
        }
    }
}

struct RunLogSumExpBackward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-sum-exp-backward",
        abstract: "dx of log-sum-exp: scale · dlse[row] · softmax(z), 0 where masked.",
        aliases: ["logsumexp-backward"])

    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("x, the forward's input.", valueName: "file")) var x: String
    @Option(help: ArgumentHelp("dlse: <f4, x's shape with the last extent 1.", valueName: "file")) var gradient: String
    @OptionGroup var softmax: SoftmaxFlags
    @Option(help: ArgumentHelp("dx, x's shape.", valueName: "file")) var out: String

    func run() throws {
        let session = try RunSession(common)
        let x = try session.read(self.x, flag: "x", argument: "x")
        let gradient = try session.read(self.gradient, flag: "gradient", argument: "gradient", as: .float32)
        let masks = try softmax.masks.read(session)
        let out = try session.output(out, flag: "out")
        try session.run { engine in
            let dx = try engine.logSumExpBackward(try x.tensor(on: engine), gradient: try gradient.tensor(on: engine),
                                                  options: try softmax.options(masks, on: engine))
            return [(out, .tensor(dx))]
        }
    }
}
