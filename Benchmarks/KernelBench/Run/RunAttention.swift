import ArgumentParser
import FusedKernels

/// Attention's inputs and `AttentionOptions` as flags, shared by its forward and backward.
struct AttentionFlags: ParsableArguments {
    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("Q [B, Hq, Lq, D].", valueName: "file")) var q: String
    @Option(help: ArgumentHelp("K [B, Hkv, Lk, D], Hkv dividing Hq.", valueName: "file")) var k: String
    @Option(help: ArgumentHelp("V, K's shape.", valueName: "file")) var v: String
    @Option(help: "softmax or sigmoid.") var activation = "softmax"
    @Option(parsing: .unconditional, help: "The sigmoid's bias b in σ(s + b) (default: −ln Lk).") var sigmoidBias: Float?
    @Option(parsing: .unconditional, help: "Multiplies Q·Kᵀ (default: 1/√D).") var scale: Float?
    @Flag(help: "Keep key j for query i only when j ≤ i' = i + Lk − Lq.") var causal = false
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Keep keys i' − l … i' + r; '-' or empty: that side unbounded (256,0 or ,0 or -,0).",
                               valueName: "l,r"))
    var window: String?
    @Option(help: ArgumentHelp("ALiBi slopes, <f4 [Hq]: subtracts slope·|i' − j|.", valueName: "file"))
    var alibiSlopes: String?
    @OptionGroup var masks: MaskFlags
    @Option(help: "Kernel tiles on OpenCL: auto (by device type or tuning), cpu or gpu.") var preset: KernelPreset = .auto

    func validate() throws {
        _ = try parsedActivation()
        _ = try window.map(parseAttentionWindow)
    }

    func parsedActivation() throws -> AttentionActivation {
        switch activation {
        case "softmax":
            guard sigmoidBias == nil else { throw ValidationError("--sigmoid-bias needs --activation sigmoid") }
            return .softmax
        case "sigmoid": return .sigmoid(bias: sigmoidBias)
        default: throw ValidationError("--activation must be softmax or sigmoid, got \(activation)")
        }
    }

    /// Q, K, V and the option files, read and checked, and the window.
    func read(_ session: RunSession) throws -> AttentionInputs {
        AttentionInputs(q: try session.read(q, flag: "q", argument: "query"),
                        k: try session.read(k, flag: "k", argument: "key"),
                        v: try session.read(v, flag: "v", argument: "value"),
                        slopes: try session.read(alibiSlopes, flag: "alibi-slopes", argument: "alibiSlopes", as: .float32),
                        masks: try masks.read(session), window: try window.map(parseAttentionWindow))
    }

    func options(_ inputs: AttentionInputs, on engine: Engine) throws -> AttentionOptions {
        AttentionOptions(scale: scale, causal: causal, window: inputs.window,
                         alibiSlopes: try inputs.slopes?.tensor(on: engine),
                         additiveMask: try inputs.masks.additive?.tensor(on: engine),
                         keepMask: try inputs.masks.keep?.tensor(on: engine))
    }
}

struct AttentionInputs {
    let q: InputFile
    let k: InputFile
    let v: InputFile
    let slopes: InputFile?
    let masks: (additive: InputFile?, keep: InputFile?)
    let window: AttentionWindow?

    func queryKeyValue(on engine: Engine) throws -> (Tensor, Tensor, Tensor) {
        (try q.tensor(on: engine), try k.tensor(on: engine), try v.tensor(on: engine))
    }
}

struct RunAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Flash attention O = act(S)·V, S = scale·Q·Kᵀ − ALiBi + mask (sigmoid or softmax).")

    @OptionGroup var flags: AttentionFlags
    @Option(help: ArgumentHelp("O, Q's shape.", valueName: "file")) var out: String?
    @Option(help: ArgumentHelp("Softmax's row log-sum-exp, <f4 [B, Hq, Lq] (the backward's input).", valueName: "file"))
    var lseOut: String?

    func validate() throws {
        guard lseOut == nil || flags.activation == "softmax" else {
            throw ValidationError("--lse-out needs --activation softmax")
        }
    }

    func run() throws {
        let activation = try flags.parsedActivation()
        let session = try RunSession(flags.common)
        let inputs = try flags.read(session)
        let (out, lseOut) = (try session.output(out, flag: "out"), try session.output(lseOut, flag: "lse-out"))
        try session.run { engine in
            let (q, k, v) = try inputs.queryKeyValue(on: engine)
            let options = try flags.options(inputs, on: engine)
            let result = try engine.attention(q, k, v, activation: activation, options: options, preset: flags.preset)
            return [(out, .tensor(result.output)), (lseOut, result.logSumExp.map(OutputValue.tensor))]
        }
    }
}

struct RunAttentionBackward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention-backward", abstract: "dQ, dK and dV of flash attention from dO and the forward's outputs.")

    @OptionGroup var flags: AttentionFlags
    @Option(help: ArgumentHelp("The forward's O (softmax only).", valueName: "file")) var o: String?
    @Option(help: ArgumentHelp("The forward's log-sum-exp, <f4 [B, Hq, Lq] (softmax only).", valueName: "file"))
    var lse: String?
    @Option(name: .customLong("do"), help: ArgumentHelp("dO, Q's shape.", valueName: "file")) var outputGradient: String
    @Option(help: ArgumentHelp("dQ, Q's shape.", valueName: "file")) var dqOut: String?
    @Option(help: ArgumentHelp("dK, K's shape (summed over a group's query heads).", valueName: "file")) var dkOut: String?
    @Option(help: ArgumentHelp("dV, V's shape.", valueName: "file")) var dvOut: String?

    func validate() throws {
        guard flags.activation != "softmax" || (o != nil && lse != nil) else {
            throw ValidationError("--activation softmax needs the forward's --o and --lse")
        }
    }

    func run() throws {
        let activation = try flags.parsedActivation()
        let session = try RunSession(flags.common)
        let inputs = try flags.read(session)
        let gradient = try session.read(outputGradient, flag: "do", argument: "gradient")
        let o = try session.read(o, flag: "o", argument: "forward.output")
        let lse = try session.read(lse, flag: "lse", argument: "forward.logSumExp", as: .float32)
        let (dqOut, dkOut, dvOut) = (try session.output(dqOut, flag: "dq-out"), try session.output(dkOut, flag: "dk-out"),
                                     try session.output(dvOut, flag: "dv-out"))
        try session.run { engine in
            let dO = try gradient.tensor(on: engine)
            // The sigmoid backward reads neither O nor a log-sum-exp; dO stands in for O.
            let forward = AttentionOutput(output: try o?.tensor(on: engine) ?? dO, logSumExp: try lse?.tensor(on: engine))
            let (q, k, v) = try inputs.queryKeyValue(on: engine)
            let options = try flags.options(inputs, on: engine)
            let gradients = try engine.attentionBackward(q, k, v, forward: forward, gradient: dO, activation: activation,
                                                         options: options, preset: flags.preset)
            return [(dqOut, .tensor(gradients.query)), (dkOut, .tensor(gradients.key)), (dvOut, .tensor(gradients.value))]
        }
    }
}
