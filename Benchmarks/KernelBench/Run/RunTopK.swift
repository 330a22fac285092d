import ArgumentParser
import FusedKernels

/// The k largest entries of each row of x (of softmax(scale·x) for `softmax-topk`).
struct TopKArguments: ParsableArguments {
    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("x, rank 1-4.", valueName: "file")) var x: String
    @Option(help: "Entries per row, 1...\(Engine.maxTopK) and at most the row length.") var k: Int
    @Option(help: ArgumentHelp("The values, descending: x's shape with the last extent k.", valueName: "file"))
    var valuesOut: String?
    @Option(help: ArgumentHelp("Their columns (ties to the lower one; −1 for a row with NaN or +∞): <i4.",
                               valueName: "file"))
    var indicesOut: String?

    func run(_ op: (Engine, Tensor) throws -> TopK) throws {
        let session = try RunSession(common)
        let x = try session.read(self.x, flag: "x", argument: "x")
        let (valuesOut, indicesOut) = (try session.output(valuesOut, flag: "values-out"),
                                       try session.output(indicesOut, flag: "indices-out"))
        try session.run { engine in
            let top = try op(engine, try x.tensor(on: engine))
            return [(valuesOut, .tensor(top.values)), (indicesOut, .tensor(top.indices))]
        }
    }
}

struct RunTopK: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topk", abstract: "The k largest values of each row.")
    @OptionGroup var arguments: TopKArguments
    func run() throws { try arguments.run { engine, x in try engine.topK(x, k: arguments.k) } }
}

struct RunSoftmaxTopK: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "softmax-topk",
        abstract: "The k most probable entries of each row of softmax(scale·x), from one read.")
    @OptionGroup var arguments: TopKArguments
    @Option(parsing: .unconditional, help: "The softmax's scale (finite).") var scale: Float = 1
    func run() throws { try arguments.run { engine, x in try engine.softmaxTopK(x, k: arguments.k, scale: scale) } }
}
