import ArgumentParser
import Foundation
import FusedKernels

/// `kernel-bench run <op>`: one op of the library on .npy inputs, .npy outputs.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one op of the library on .npy inputs and write .npy outputs.",
        discussion: """
            --dtype is the storage the op runs in: float32 reads <f4 files, float16 <f2, bfloat16 <f4 rounded to \
            nearest even. Masks, ALiBi slopes, log-sum-exps and the cross-entropy's upstream gradient are <f4 \
            whatever --dtype is, keep masks |b1, targets <i4 or <i8 (range-checked). Outputs are written in their \
            tensor's NumPy type: <f2 for float16, <f4 for float32 and for bfloat16 (widened exactly), <i4 for \
            indices. .npy versions 1.0, 2.0 and 3.0 are read, C order (Fortran order only where it is the same \
            bytes), rank 1-4. A bad file or argument is one line on standard error naming the file; outputs are \
            written to a temporary name and renamed, and nothing is left behind on an error.
            """,
        subcommands: [RunSoftmax.self, RunLogSoftmax.self, RunLogSumExp.self, RunSoftmaxBackward.self,
                      RunNormalizer.self, RunLogSumExpBackward.self, RunTopK.self, RunSoftmaxTopK.self, RunMatmul.self,
                      RunCrossEntropy.self, RunCrossEntropyBackward.self, RunAttention.self, RunAttentionBackward.self,
                      RunConvert.self, RunCopy.self])
}

/// The flags every `run` op takes.
struct RunOptions: ParsableArguments {
    @Option(help: """
        cpu, opencl, opencl:N or a device-name substring (default: FUSED_KERNELS_DEVICE, else the best OpenCL \
        device, else the CPU path).
        """)
    var device: String?
    @Option(help: """
        Storage the op runs in: float32 (reads <f4), float16 (reads and writes <f2) or bfloat16 (reads <f4 \
        rounded to bf16, writes <f4); or fp32, fp16, bf16.
        """)
    var dtype = "float32"

    func validate() throws { _ = try floatingDType(dtype) }
}

/// A failed run, as one line: the file (and its flag) and the problem. ArgumentParser
/// prints it as `Error: <description>` on standard error and exits with status 1.
struct RunError: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) { description = message }

    init(file: String, flag: String, _ problem: String) { self.init("\(file) (--\(flag)): \(problem)") }
}

/// One `run` invocation: reads and checks the inputs, checks the outputs' paths, then
/// opens the engine, runs the op and writes the outputs atomically. The library's typed
/// errors are reported against the file of the argument they name.
final class RunSession {
    let storage: DType
    private let device: String?
    private var inputs: [InputFile] = []
    private var outputs: [OutputFile] = []
    private var outputFlags: [String] = []

    init(_ options: RunOptions) throws {
        storage = try floatingDType(options.dtype)
        device = options.device
    }

    /// The file of `--flag` as the library's `argument`, checked against `role`.
    func read(_ path: String, flag: String, argument: String, as role: InputRole = .storage) throws -> InputFile {
        try input(InputFile.load(path, flag: flag), path: path, flag: flag, argument: argument, as: role)
    }

    func read(_ path: String?, flag: String, argument: String, as role: InputRole = .storage) throws -> InputFile? {
        try path.map { try read($0, flag: flag, argument: argument, as: role) }
    }

    /// An array already loaded from `path` (when its role depends on its dtype).
    func input(_ array: NPYArray, path: String, flag: String, argument: String, as role: InputRole) throws -> InputFile {
        let file = try InputFile(array, path: path, flag: flag, argument: argument, role: role, storage: storage)
        inputs.append(file)
        return file
    }

    /// The output of `--flag`, if asked for: its directory must exist, and no other
    /// output may have the same path.
    func output(_ path: String?, flag: String) throws -> OutputFile? {
        outputFlags.append(flag)
        guard let path else { return nil }
        let file = OutputFile(path: path, flag: flag)
        if let other = outputs.first(where: { $0.path == path }) {
            throw RunError(file: path, flag: flag, "also given to --\(other.flag)")
        }
        try AtomicOutputs.check(file)
        outputs.append(file)
        return file
    }

    /// Runs `body` on a new engine and writes what it returns for each requested output.
    func run(_ body: (Engine) throws -> [(OutputFile?, OutputValue?)]) throws {
        guard !outputs.isEmpty else {
            throw RunError("no output asked for: give " + outputFlags.map { "--\($0)" }.joined(separator: " or "))
        }
        do {
            let engine = try Engine(device: device)
            let results = try body(engine)
            let files = try results.compactMap { file, value -> (file: OutputFile, bytes: Data)? in
                guard let file, let value else { return nil }
                return (file, NPY.encode(try value.npyArray()))
            }
            try AtomicOutputs.write(files)
        } catch let error as FusedKernelsError {
            throw describe(error)
        }
    }

    /// The library's error, against the file of the argument it names when there is one.
    private func describe(_ error: FusedKernelsError) -> RunError {
        guard let argument = error.argument, let input = inputs.first(where: { $0.argument == argument }) else {
            return RunError(error.description)
        }
        return RunError(file: input.path, flag: input.flag, error.description)
    }
}

extension FusedKernelsError {
    /// The argument an input error names.
    var argument: String? {
        switch self {
        case let .invalidShape(argument, _, _), let .sizeMismatch(argument, _, _), let .shapeMismatch(argument, _, _),
             let .dtypeMismatch(argument, _, _), let .invalidArgument(argument, _), let .deviceMismatch(argument, _, _):
            return argument
        case .noOpenCLDevice, .deviceNotFound, .buildFailed, .kernelSourcesNotFound, .openCL, .invalidKernelArguments:
            return nil
        }
    }
}
