import ArgumentParser
import FusedKernels

/// The linear cross-entropy's inputs and `CrossEntropyOptions` as flags, shared by its
/// forward and backward (the gradient filter, a backward option, is the backward's).
struct CrossEntropyFlags: ParsableArguments {
    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("E [N, D].", valueName: "file")) var embeddings: String
    @Option(help: ArgumentHelp("C [V, D] (a shard's rows with --shard).", valueName: "file")) var classifier: String
    @Option(help: ArgumentHelp("Targets [N]: <i4 or <i8, in [0, vocabulary) or the ignore index.", valueName: "file"))
    var targets: String
    @Option(help: ArgumentHelp("Bias [V], in --dtype.", valueName: "file")) var bias: String?
    @Option(help: "none ([N] losses), mean (over counted tokens) or sum.")
    var reduction: CrossEntropyOptions.Reduction = .mean
    @Option(parsing: .unconditional, help: "Targets with this value add no loss and get no gradient.")
    var ignoreIndex: Int32 = -100
    @Option(help: "ε in [0, 1]: targets (1 − ε)·one-hot + ε/V.") var labelSmoothing: Float = 0
    @Option(help: "λ ≥ 0: adds λ·LSE² per token.") var zLoss: Float = 0
    @Option(help: "c > 0: logits become c·tanh(z/c).") var softCap: Float?
    @Option(help: ArgumentHelp("Columns START..<END of a vocabulary of SIZE held by --classifier and --bias.",
                               valueName: "START:END/SIZE"))
    var shard: String?
    @Option(help: "Kernel tiles on OpenCL: auto (by device type or tuning), cpu or gpu.") var preset: KernelPreset = .auto

    func validate() throws { _ = try vocabularyShard() }

    var options: CrossEntropyOptions {
        CrossEntropyOptions(reduction: reduction, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing, zLoss: zLoss,
                            softCap: softCap)
    }

    func vocabularyShard() throws -> VocabularyShard? {
        guard let shard else { return nil }
        let halves = shard.split(separator: "/", omittingEmptySubsequences: false)
        let bounds = halves[0].split(separator: ":", omittingEmptySubsequences: false)
        guard halves.count == 2, bounds.count == 2, let start = Int(bounds[0]), let end = Int(bounds[1]),
              let size = Int(halves[1]), 0 <= start, start <= end else {
            throw ValidationError("--shard must be START:END/SIZE with 0 ≤ START ≤ END (e.g. 0:512/1000), got \(shard)")
        }
        return VocabularyShard(start ..< end, of: size)
    }

    /// E, C, the targets and the bias, read and checked.
    func read(_ session: RunSession) throws -> (e: InputFile, c: InputFile, targets: InputFile, bias: InputFile?) {
        (try session.read(embeddings, flag: "embeddings", argument: "embeddings"),
         try session.read(classifier, flag: "classifier", argument: "classifier"),
         try session.read(targets, flag: "targets", argument: "targets", as: .int32),
         try session.read(bias, flag: "bias", argument: "bias"))
    }
}

struct RunCrossEntropy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cross-entropy",
        abstract: "The loss of logits E·Cᵀ + b without forming them (linearCrossEntropy), or a shard's statistics.",
        discussion: """
            --statistics-out writes linearCrossEntropyStatistics as <f4 [N, 4]: per token the max and Σ e^(z − max) \
            of its logits, their sum and the target's logit (0 outside the shard). With --shard only the statistics \
            can be written: the loss needs every shard's, merged.
            """)

    @OptionGroup var flags: CrossEntropyFlags
    @Option(help: ArgumentHelp("The loss: <f4 [1], or [N] for --reduction none.", valueName: "file")) var out: String?
    @Option(help: ArgumentHelp("The per-token log-sum-exp, <f4 [N].", valueName: "file")) var lseOut: String?
    @Option(help: ArgumentHelp("The per-token statistics, <f4 [N, 4].", valueName: "file")) var statisticsOut: String?

    func validate() throws {
        guard flags.shard == nil || (out == nil && lseOut == nil) else {
            throw ValidationError("--shard writes only --statistics-out (the loss needs every shard's statistics)")
        }
    }

    func run() throws {
        let shard = try flags.vocabularyShard()
        let session = try RunSession(flags.common)
        let inputs = try flags.read(session)
        let out = try session.output(out, flag: "out")
        let lseOut = try session.output(lseOut, flag: "lse-out")
        let statisticsOut = try session.output(statisticsOut, flag: "statistics-out")
        var options = flags.options
        options.returnLogSumExp = lseOut != nil
        try session.run { engine in
            let (e, c) = (try inputs.e.tensor(on: engine), try inputs.c.tensor(on: engine))
            let (targets, bias) = (try inputs.targets.tensor(on: engine), try inputs.bias?.tensor(on: engine))
            var results: [(OutputFile?, OutputValue?)] = []
            if out != nil || lseOut != nil {
                let loss = try engine.linearCrossEntropy(e, c, targets: targets, bias: bias, options: options,
                                                         preset: flags.preset)
                results += [(out, .tensor(loss.loss)), (lseOut, loss.logSumExp.map(OutputValue.tensor))]
            }
            if let statisticsOut {
                let s = try engine.linearCrossEntropyStatistics(
                    e, c, targets: targets, bias: bias, shard: shard ?? VocabularyShard(0 ..< c.shape[0], of: c.shape[0]),
                    options: options, preset: flags.preset)
                let rows = zip(zip(s.max, s.sum), zip(s.logitSum, s.targetLogit)).flatMap { [$0.0, $0.1, $1.0, $1.1] }
                results.append((statisticsOut, .floats(rows, shape: [s.max.count, 4])))
            }
            return results
        }
    }
}

struct RunCrossEntropyBackward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cross-entropy-backward",
        abstract: "dE, dC and dBias of the linear cross-entropy (linearCrossEntropyBackward).")

    @OptionGroup var flags: CrossEntropyFlags
    @Option(help: ArgumentHelp("The forward's log-sum-exp, <f4 [N] (default: recomputed; required with --shard: the "
                                   + "merged one).", valueName: "file"))
    var lse: String?
    @Option(help: ArgumentHelp("The loss's upstream gradient, <f4 [1] or [N] for --reduction none (default: 1).",
                               valueName: "file"))
    var upstream: String?
    @Option(help: "Skip (token, vocabulary) tiles whose gradients are all below this (≥ 0), or off (exact).")
    var gradientFilter = "0x1p-12"
    @Option(help: ArgumentHelp("dE [N, D] (this shard's share with --shard).", valueName: "file")) var deOut: String?
    @Option(help: ArgumentHelp("dC, C's shape.", valueName: "file")) var dcOut: String?
    @Option(help: ArgumentHelp("dBias, the bias's shape (needs --bias).", valueName: "file")) var dbiasOut: String?

    func validate() throws {
        _ = try filter()
        guard dbiasOut == nil || flags.bias != nil else { throw ValidationError("--dbias-out needs --bias") }
    }

    func run() throws {
        let shard = try flags.vocabularyShard()
        var options = flags.options
        options.gradientFilter = try filter()
        let session = try RunSession(flags.common)
        let inputs = try flags.read(session)
        let lse = try session.read(lse, flag: "lse", argument: "logSumExp", as: .float32)
        let upstream = try session.read(upstream, flag: "upstream", argument: "upstream", as: .float32)
        let deOut = try session.output(deOut, flag: "de-out")
        let dcOut = try session.output(dcOut, flag: "dc-out")
        let dbiasOut = try session.output(dbiasOut, flag: "dbias-out")
        try session.run { engine in
            let gradients = try engine.linearCrossEntropyBackward(
                try inputs.e.tensor(on: engine), try inputs.c.tensor(on: engine),
                targets: try inputs.targets.tensor(on: engine),
                bias: try inputs.bias?.tensor(on: engine), logSumExp: try lse?.tensor(on: engine),
                upstream: try upstream?.tensor(on: engine), shard: shard, options: options, preset: flags.preset)
            return [(deOut, .tensor(gradients.embeddings)), (dcOut, .tensor(gradients.classifier)),
                    (dbiasOut, gradients.bias.map(OutputValue.tensor))]
        }
    }

    private func filter() throws -> Float? {
        if gradientFilter == "off" { return nil }
        guard let filter = Float(gradientFilter) else {
            throw ValidationError("--gradient-filter must be a number or off, got \(gradientFilter)")
        }
        return filter
    }
}
