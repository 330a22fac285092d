import Foundation
import FusedKernels
import Testing
@testable import KernelBench

/// One `run` invocation on small inputs, and the library call it must equal bit for bit.
/// Input files are named `<flag>.npy`, outputs too; `expected` builds its tensors from the
/// same Swift values (not through `run`'s reader) and returns each output flag's array.
struct RunOpCase: CustomTestStringConvertible, Sendable {
    let name: String
    let arguments: [String]
    let inputs: [(flag: String, array: NPYArray)]
    let outputs: [String]
    let expected: @Sendable (Engine) throws -> [String: NPYArray]

    var testDescription: String { name }

    /// Runs the case on `device` with its inputs already in `directory`, and checks every
    /// output file's dtype, shape and bytes against the library's result.
    func runAndCompare(device: String, in directory: TemporaryDirectory) throws -> [String: NPYArray] {
        let files = inputs.map(\.flag) + outputs
        try runCommand(arguments + ["--device", device] + files.flatMap { ["--\($0)", directory.path("\($0).npy")] })
        let expected = try expected(try Engine(device: device))
        for flag in outputs {
            let written = try NPY.decode(try Data(contentsOf: directory.url.appendingPathComponent("\(flag).npy")))
            let want = try #require(expected[flag], "\(name): no expected value for --\(flag)")
            #expect(written.dtype == want.dtype, "\(name) --\(flag) on \(device): dtype")
            #expect(written.shape == want.shape, "\(name) --\(flag) on \(device): shape")
            #expect(written.data == want.data, "\(name) --\(flag) on \(device): bytes differ from the library's result")
        }
        return expected
    }
}

// Arrays as files hold them, and the library's tensors as `run` writes them.
func f4(_ values: [Float], _ shape: [Int]) -> NPYArray { NPYArray(values, dtype: .float32, shape: shape) }
func f2(_ values: [Float], _ shape: [Int]) -> NPYArray { NPYArray(values.map(Float16.init), dtype: .float16, shape: shape) }
func b1(_ values: [Bool], _ shape: [Int]) -> NPYArray { NPYArray(values, dtype: .bool, shape: shape) }
func f4(_ tensor: Tensor) throws -> NPYArray { f4(try tensor.array(of: Float.self), tensor.shape) }
func f2(_ tensor: Tensor) throws -> NPYArray { NPYArray(try tensor.array(of: Float16.self), dtype: .float16, shape: tensor.shape) }
func i4(_ tensor: Tensor) throws -> NPYArray { NPYArray(try tensor.array(of: Int32.self), dtype: .int32, shape: tensor.shape) }

/// `values` as a tensor of the floating `dtype`.
func tensor(_ values: [Float], _ shape: [Int], _ dtype: DType = .float32, on engine: Engine) throws -> Tensor {
    switch dtype {
    case .float16: return try engine.tensor(values.map(Float16.init), shape: shape)
    case .bfloat16: return try engine.tensor(values.map(BFloat16.init), shape: shape)
    default: return try engine.tensor(values, shape: shape)
    }
}

extension RunOpCase {
    static let all: [RunOpCase] = softmaxFamily + [topK, softmaxTopK, matmul, mixedPrecisionMatmul, crossEntropy,
                                                   crossEntropyShard, crossEntropyBackward] + attention + conversions

    static let softmaxFamily: [RunOpCase] = {
        let x = testValues(21, seed: 1), keep = (0 ..< 7).map { $0 != 2 }, add = testValues(21, seed: 2)
        let x3 = testValues(30, seed: 3), dy = testValues(21, seed: 4), dlse = testValues(2, seed: 5)
        return [
            RunOpCase(name: "softmax, keep mask by --mask", arguments: ["softmax", "--scale", "0.5", "--variant", "online"],
                      inputs: [("x", f4(x, [3, 7])), ("mask", b1(keep, [7]))], outputs: ["out"]) { engine in
                let keepMask = try engine.tensor(keep, shape: [7])
                let options = SoftmaxOptions(scale: 0.5, keepMask: keepMask, variant: .online)
                return ["out": try f4(try engine.softmax(try tensor(x, [3, 7], on: engine), options: options))]
            },
            RunOpCase(name: "softmax float16", arguments: ["softmax", "--dtype", "float16"],
                      inputs: [("x", f2(x3, [2, 3, 5])), ("additive-mask", f4(Array(add.prefix(5)), [5]))],
                      outputs: ["out"]) { engine in
                let options = SoftmaxOptions(additiveMask: try tensor(Array(add.prefix(5)), [5], on: engine))
                return ["out": try f2(try engine.softmax(try tensor(x3, [2, 3, 5], .float16, on: engine), options: options))]
            },
            RunOpCase(name: "softmax bfloat16", arguments: ["softmax", "--dtype", "bf16"], inputs: [("x", f4(x, [3, 7]))],
                      outputs: ["out"]) { engine in
                ["out": try f4(try engine.softmax(try tensor(x, [3, 7], .bfloat16, on: engine)))]
            },
            RunOpCase(name: "log-softmax, both masks", arguments: ["log-softmax", "--variant", "twoPass"],
                      inputs: [("x", f4(x, [3, 7])), ("additive-mask", f4(add, [3, 7])), ("keep-mask", b1(keep, [1, 7]))],
                      outputs: ["out"]) { engine in
                let options = SoftmaxOptions(additiveMask: try tensor(add, [3, 7], on: engine),
                                             keepMask: try engine.tensor(keep, shape: [1, 7]), variant: .twoPass)
                return ["out": try f4(try engine.softmax(try tensor(x, [3, 7], on: engine), kind: .logSoftmax, options: options))]
            },
            RunOpCase(name: "log-sum-exp", arguments: ["log-sum-exp", "--scale", "2"], inputs: [("x", f4(x3, [2, 3, 5]))],
                      outputs: ["out"]) { engine in
                let options = SoftmaxOptions(scale: 2)
                return ["out": try f4(try engine.softmax(try tensor(x3, [2, 3, 5], on: engine), kind: .logSumExp, options: options))]
            },
            RunOpCase(name: "softmax-backward", arguments: ["softmax-backward", "--kind", "logSoftmax", "--scale", "0.5"],
                      inputs: [("y", f4(x, [3, 7])), ("dy", f4(dy, [3, 7]))], outputs: ["out"]) { engine in
                let dx = try engine.softmaxBackward(output: try tensor(x, [3, 7], on: engine), gradient: try tensor(dy, [3, 7], on: engine),
                                                    kind: .logSoftmax, scale: 0.5)
                return ["out": try f4(dx)]
            },
            RunOpCase(name: "normalizer", arguments: ["normalizer", "--scale", "1.5"],
                      inputs: [("x", f4(x, [3, 7])), ("keep-mask", b1(keep, [7]))],
                      outputs: ["max-out", "sum-out", "lse-out"]) { engine in
                let options = SoftmaxOptions(scale: 1.5, keepMask: try engine.tensor(keep, shape: [7]))
                let statistics = try engine.normalizer(try tensor(x, [3, 7], on: engine), options: options)
                return ["max-out": f4(statistics.max, [3, 1]), "sum-out": f4(statistics.sum, [3, 1]),
                        "lse-out": f4(statistics.logSumExp, [3, 1])]
            },
            RunOpCase(name: "log-sum-exp-backward", arguments: ["log-sum-exp-backward"],
                      inputs: [("x", f4(Array(x.prefix(10)), [2, 5])), ("gradient", f4(dlse, [2, 1])),
                               ("additive-mask", f4(Array(add.prefix(5)), [5]))], outputs: ["out"]) { engine in
                let options = SoftmaxOptions(additiveMask: try tensor(Array(add.prefix(5)), [5], on: engine))
                let dx = try engine.logSumExpBackward(try tensor(Array(x.prefix(10)), [2, 5], on: engine),
                                                      gradient: try tensor(dlse, [2, 1], on: engine), options: options)
                return ["out": try f4(dx)]
            },
        ]
    }()

    static let topK: RunOpCase = {
        let x = testValues(21, seed: 6)
        return RunOpCase(name: "topk", arguments: ["topk", "--k", "3"], inputs: [("x", f4(x, [3, 7]))],
                         outputs: ["values-out", "indices-out"]) { engine in
            let top = try engine.topK(try tensor(x, [3, 7], on: engine), k: 3)
            return ["values-out": try f4(top.values), "indices-out": try i4(top.indices)]
        }
    }()

    static let softmaxTopK: RunOpCase = {
        let x = testValues(21, seed: 7)
        return RunOpCase(name: "softmax-topk float16", arguments: ["softmax-topk", "--k", "2", "--scale", "1.5", "--dtype", "fp16"],
                         inputs: [("x", f2(x, [3, 7]))], outputs: ["values-out", "indices-out"]) { engine in
            let top = try engine.softmaxTopK(try tensor(x, [3, 7], .float16, on: engine), k: 2, scale: 1.5)
            return ["values-out": try f2(top.values), "indices-out": try i4(top.indices)]
        }
    }()

    static let matmul: RunOpCase = {
        let a = testValues(20, seed: 8), b = testValues(12, seed: 9)
        return RunOpCase(name: "matmul, transposes", arguments: ["matmul", "--transpose-a", "--transpose-b", "--alpha", "0.5"],
                         inputs: [("a", f4(a, [4, 5])), ("b", f4(b, [3, 4]))], outputs: ["out"]) { engine in
            let c = try engine.matmul(try tensor(a, [4, 5], on: engine), try tensor(b, [3, 4], on: engine), transposeA: true,
                                      transposeB: true, alpha: 0.5)
            return ["out": try f4(c)]
        }
    }()

    static let mixedPrecisionMatmul: RunOpCase = {
        let a = testValues(24, seed: 10), b = testValues(20, seed: 11), c = testValues(30, seed: 12)
        return RunOpCase(name: "matmul float16, fp32 C, beta",
                         arguments: ["matmul", "--dtype", "float16", "--float32-output", "--beta", "0.5"],
                         inputs: [("a", f2(a, [2, 3, 4])), ("b", f2(b, [4, 5])), ("c", f4(c, [2, 3, 5]))],
                         outputs: ["out"]) { engine in
            let result = try tensor(c, [2, 3, 5], on: engine)
            try engine.matmul(try tensor(a, [2, 3, 4], .float16, on: engine), try tensor(b, [4, 5], .float16, on: engine),
                              into: result, beta: 0.5)
            return ["out": try f4(result)]
        }
    }()

    static let attention: [RunOpCase] = {
        let q = testValues(40, seed: 13), k = testValues(24, seed: 14), v = testValues(24, seed: 15)
        let keep = (0 ..< 30).map { $0 % 4 != 1 }, slopes: [Float] = [0.5, 0.25], add = testValues(16, seed: 16)
        let dO = testValues(40, seed: 17), o = testValues(40, seed: 18), lse = testValues(10, seed: 19).map { $0 + 3 }
        let (q4, k4, v4) = (testValues(64, seed: 20), testValues(64, seed: 21), testValues(64, seed: 22))
        let (qShape, kShape) = ([1, 2, 5, 4], [1, 1, 6, 4])
        return [
            RunOpCase(name: "attention softmax, causal, ALiBi, keep mask", arguments: ["attention", "--causal"],
                      inputs: [("q", f4(q, qShape)), ("k", f4(k, kShape)), ("v", f4(v, kShape)), ("alibi-slopes", f4(slopes, [2])),
                               ("keep-mask", b1(keep, [5, 6]))], outputs: ["out", "lse-out"]) { engine in
                let options = AttentionOptions(causal: true, alibiSlopes: try tensor(slopes, [2], on: engine),
                                               keepMask: try engine.tensor(keep, shape: [5, 6]))
                let result = try engine.attention(try tensor(q, qShape, on: engine), try tensor(k, kShape, on: engine),
                                                  try tensor(v, kShape, on: engine), activation: .softmax, options: options)
                return ["out": try f4(result.output), "lse-out": try f4(try #require(result.logSumExp))]
            },
            RunOpCase(name: "attention sigmoid, window, bias, additive mask, float16",
                      arguments: ["attention", "--activation", "sigmoid", "--sigmoid-bias", "-1", "--scale", "0.3",
                                  "--window", "1,1", "--dtype", "float16"],
                      inputs: [("q", f2(q4, [1, 2, 4, 8])), ("k", f2(k4, [1, 2, 4, 8])), ("v", f2(v4, [1, 2, 4, 8])),
                               ("additive-mask", f4(add, [4, 4]))], outputs: ["out"]) { engine in
                let options = AttentionOptions(scale: 0.3, window: AttentionWindow(left: 1, right: 1),
                                               additiveMask: try tensor(add, [4, 4], on: engine))
                let result = try engine.attention(try tensor(q4, [1, 2, 4, 8], .float16, on: engine),
                                                  try tensor(k4, [1, 2, 4, 8], .float16, on: engine),
                                                  try tensor(v4, [1, 2, 4, 8], .float16, on: engine),
                                                  activation: .sigmoid(bias: -1), options: options)
                return ["out": try f2(result.output)]
            },
            RunOpCase(name: "attention-backward softmax", arguments: ["attention-backward"],
                      inputs: [("q", f4(q, qShape)), ("k", f4(k, kShape)), ("v", f4(v, kShape)), ("o", f4(o, qShape)),
                               ("lse", f4(lse, [1, 2, 5])), ("do", f4(dO, qShape))],
                      outputs: ["dq-out", "dk-out", "dv-out"]) { engine in
                let forward = AttentionOutput(output: try tensor(o, qShape, on: engine), logSumExp: try tensor(lse, [1, 2, 5], on: engine))
                let gradients = try engine.attentionBackward(try tensor(q, qShape, on: engine), try tensor(k, kShape, on: engine),
                                                             try tensor(v, kShape, on: engine), forward: forward,
                                                             gradient: try tensor(dO, qShape, on: engine), activation: .softmax)
                return ["dq-out": try f4(gradients.query), "dk-out": try f4(gradients.key), "dv-out": try f4(gradients.value)]
            },
            RunOpCase(name: "attention-backward sigmoid, causal, bfloat16",
                      arguments: ["attention-backward", "--activation", "sigmoid", "--causal", "--dtype", "bfloat16"],
                      inputs: [("q", f4(q, qShape)), ("k", f4(k, kShape)), ("v", f4(v, kShape)), ("do", f4(dO, qShape))],
                      outputs: ["dq-out", "dk-out", "dv-out"]) { engine in
                let (forward, dOTensor) = (try engine.attention(try tensor(q, qShape, .bfloat16, on: engine),
                                                                try tensor(k, kShape, .bfloat16, on: engine),
                                                                try tensor(v, kShape, .bfloat16, on: engine),
                                                                activation: .sigmoid(), options: AttentionOptions(causal: true)),
                                           try tensor(dO, qShape, .bfloat16, on: engine))
                let gradients = try engine.attentionBackward(try tensor(q, qShape, .bfloat16, on: engine),
                                                             try tensor(k, kShape, .bfloat16, on: engine),
                                                             try tensor(v, kShape, .bfloat16, on: engine), forward: forward,
                                                             gradient: dOTensor, activation: .sigmoid(),
                                                             options: AttentionOptions(causal: true))
                return ["dq-out": try f4(gradients.query), "dk-out": try f4(gradients.key), "dv-out": try f4(gradients.value)]
            },
        ]
    }()

    static let conversions: [RunOpCase] = {
        let x = testValues(15, seed: 23).map { $0 * 1000 }
        return [
            RunOpCase(name: "convert to bfloat16", arguments: ["convert", "--to", "bfloat16"], inputs: [("x", f4(x, [3, 5]))],
                      outputs: ["out"]) { engine in
                ["out": try f4(try engine.convert(try tensor(x, [3, 5], on: engine), to: .bfloat16))]
            },
            RunOpCase(name: "convert float16 to float32", arguments: ["convert", "--dtype", "float16", "--to", "fp32"],
                      inputs: [("x", f2(x, [3, 5]))], outputs: ["out"]) { engine in
                ["out": try f4(try engine.convert(try tensor(x, [3, 5], .float16, on: engine), to: .float32))]
            },
            RunOpCase(name: "copy, plain stores", arguments: ["copy", "--plain-stores"], inputs: [("x", f4(x, [1, 3, 5]))],
                      outputs: ["out"]) { engine in
                ["out": try f4(try engine.copy(try tensor(x, [1, 3, 5], on: engine)))]
            },
        ]
    }()
}
