import ArgumentParser
import FusedKernels

struct RunMatmul: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul",
        abstract: "C = α·op(A)·op(B) + β·C, batched over a leading axis.",
        discussion: """
            A is [m, k] or [batch, m, k] ([k, m] … with --transpose-a), B [k, n] or [batch, k, n]; a rank-2 operand \
            serves every batch. C is A's dtype, or fp32 with --float32-output (mixed precision).
            """)

    @OptionGroup var common: RunOptions
    @Option(help: ArgumentHelp("A.", valueName: "file")) var a: String
    @Option(help: ArgumentHelp("B.", valueName: "file")) var b: String
    @Flag(help: "op(A) = Aᵀ (the last two axes).") var transposeA = false
    @Flag(help: "op(B) = Bᵀ.") var transposeB = false
    @Option(parsing: .unconditional, help: "α (finite).") var alpha: Float = 1
    @Option(parsing: .unconditional, help: "β (finite); needs --c.") var beta: Float = 0
    @Option(help: ArgumentHelp("C's value before the op (read when β ≠ 0): <f4 with --float32-output, else in --dtype.",
                               valueName: "file"))
    var c: String?
    @Flag(help: "C in fp32 whatever the operands' dtype: their fp32 sums, unrounded.") var float32Output = false
    @Option(help: "Kernel tiles on OpenCL: auto (by device type or tuning), cpu or gpu.") var preset: KernelPreset = .auto
    @Option(help: ArgumentHelp("C.", valueName: "file")) var out: String

    func validate() throws {
        guard beta == 0 || c != nil else { throw ValidationError("--beta \(beta) needs --c (C's value before the op)") }
    }

    func run() throws {
        let session = try RunSession(common)
        let a = try session.read(self.a, flag: "a", argument: "a")
        let b = try session.read(self.b, flag: "b", argument: "b")
        let c = try session.read(self.c, flag: "c", argument: "c", as: float32Output ? .float32 : .storage)
        let out = try session.output(out, flag: "out")
        try session.run { engine in
            let (a, b) = (try a.tensor(on: engine), try b.tensor(on: engine))
            guard c != nil || float32Output else {
                return [(out, .tensor(try engine.matmul(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha,
                                                        preset: preset)))]
            }
            let result = try c?.tensor(on: engine) ?? engine.empty(shape: outputShape(a.shape, b.shape), dtype: .float32)
            try engine.matmul(a, b, into: result, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta,
                              preset: preset)
            return [(out, .tensor(result))]
        }
    }

    /// C's shape for operands the library accepts; any shape otherwise, as the library
    /// rejects bad operands before it looks at C.
    private func outputShape(_ a: [Int], _ b: [Int]) -> [Int] {
        guard (2 ... 3).contains(a.count), (2 ... 3).contains(b.count) else { return [1] }
        let m = transposeA ? a[a.count - 1] : a[a.count - 2]
        let n = transposeB ? b[b.count - 2] : b[b.count - 1]
        guard a.count == 3 || b.count == 3 else { return [m, n] }
        return [max(a.count == 3 ? a[0] : 1, b.count == 3 ? b[0] : 1), m, n]
    }
}
