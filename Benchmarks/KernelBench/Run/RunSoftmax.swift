import ArgumentParser
import FusedKernels

/// The forward of one `SoftmaxKind` (`Engine.softmax`) over x's last axis.
struct SoftmaxForwardArguments: ParsableArguments {
    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("x, rank 1-4.", valueName: "file")) var x: String
    @OptionGroup var softmax: SoftmaxFlags
    @Option(help: ArgumentHelp("y: x's shape (the last extent 1 for log-sum-exp).", valueName: "file")) var out: String

    func run(_ kind: SoftmaxKind) throws {
        let session = try RunSession(common)
        let x = try session.read(self.x, flag: "x", argument: "x")
        let masks = try softmax.masks.read(session)
        let out = try session.output(out, flag: "out")
        try session.run { engine in
            let options = try softmax.options(masks, on: engine)
            let y = try engine.softmax(try x.tensor(on: engine), kind: kind, options: options)
            return [(out, .tensor(y))]
        }
    }
}

struct RunSoftmax: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "softmax", abstract: "e^z / Σ e^z over x's last axis.")
    @OptionGroup var arguments: SoftmaxForwardArguments
    func run() throws { try arguments.run(.softmax) }
}

struct RunLogSoftmax: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log-softmax",
                                                    abstract: "z − log Σ e^z over x's last axis.")
    @OptionGroup var arguments: SoftmaxForwardArguments
    func run() throws { try arguments.run(.logSoftmax) }
}

struct RunLogSumExp: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log-sum-exp", abstract: "log Σ e^z over x's last axis.")
    @OptionGroup var arguments: SoftmaxForwardArguments
    func run() throws { try arguments.run(.logSumExp) }
}

struct RunSoftmaxBackward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "softmax-backward",
        abstract: "dx of softmax or log-softmax from the forward's output y and the upstream gradient dy.")

    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("y, the forward's output.", valueName: "file")) var y: String
    @Option(help: ArgumentHelp("dy, y's shape.", valueName: "file")) var dy: String
    @Option(help: "softmax or logSoftmax (the forward's kind).") var kind: SoftmaxKind = .softmax
    @Option(parsing: .unconditional, help: "The forward's scale.") var scale: Float = 1
    @Option(help: ArgumentHelp("dx, y's shape.", valueName: "file")) var out: String

    func run() throws {
        let session = try RunSession(common)
        let y = try session.read(self.y, flag: "y", argument: "y")
        let dy = try session.read(self.dy, flag: "dy", argument: "dy")
        let out = try session.output(out, flag: "out")
        try session.run { engine in
            let dx = try engine.softmaxBackward(output: try y.tensor(on: engine), gradient: try dy.tensor(on: engine),
                                                kind: kind, scale: scale)
            return [(out, .tensor(dx))]
        }
    }
}
