import ArgumentParser
import Foundation
import FusedKernels

/// `kernel-bench gpu-shapes`: every family's GPU preset, each op run once, and the kernels
/// each case launched (file, entry point, defines) as JSON lines: what `make gpu-model`
/// compiles with real GPU compilers (`--shapes suite`, the suite's shapes) and records with
/// its Oclgrind access model (`--shapes model`, small shapes with the same specialisations
/// where they matter: full tiles, D 64 and 128, one group per row and sharded rows).
struct GPUShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu-shapes",
        abstract: "Run every family's GPU preset once per case and list the kernels it launched (for make gpu-model).")

    @Option(help: "suite (the benchmark suite's shapes) or model (small shapes for the Oclgrind access model).")
    var shapes = "model"
    @Option(help: "Only the cases whose name contains this text.") var filter: String?
    @Option(help: deviceHelp) var device = "pthread"
    @Option(help: "The kernel shape every op is run with (gpu; cpu lists the CPU preset's kernels).")
    var preset = KernelPreset.gpu
    @Option(help: "A file to append a marker line to before each case (the access model's output).")
    var markerFile: String?

    func run() throws {
        guard let set = GPUShapeSet(rawValue: shapes) else { throw ValidationError("--shapes must be suite or model") }
        let engine = try Engine(device: device, preset: preset)
        guard engine.backend != .cpu else { throw ValidationError("--device must name an OpenCL device") }
        for item in gpuShapeCases(set) where filter.map({ item.name.contains($0) }) ?? true {
            try mark(item)
            Progress.show("gpu-shapes \(item.name) \(item.shape)")
            let kernels = try engine.profile { try item.run(engine) }.map(\.spec)
            var seen = Set<KernelSpec>()
            let unique = kernels.filter { seen.insert($0).inserted }
            Progress.clear()
            print(jsonLine(GPUShapeRecord(set: shapes, name: item.name, shape: item.shape, kernels: unique)))
        }
    }

    private func mark(_ item: GPUShapeCase) throws {
        guard let markerFile else { return }
        let line = jsonLine(["record": "case", "case": item.name, "shape": item.shape]) + "\n"
        if !FileManager.default.fileExists(atPath: markerFile) {
            _ = FileManager.default.createFile(atPath: markerFile, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: markerFile) else {
            throw ValidationError("cannot write \(markerFile)")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
    }
}

private struct GPUShapeRecord: Encodable {
    struct Kernel: Encodable {
        let file: String, entry: String, spec: String
        let defines: [String: String]
    }
    let record = "gpu-shapes"
    let set: String, name: String, shape: String
    let kernels: [Kernel]

    init(set: String, name: String, shape: String, kernels: [KernelSpec]) {
        (self.set, self.name, self.shape) = (set, name, shape)
        self.kernels = kernels.map { spec in
            Kernel(file: spec.file, entry: spec.entry, spec: spec.description,
                   defines: Dictionary(uniqueKeysWithValues: spec.defines.map { ($0.name, $0.value) }))
        }
    }
}

enum GPUShapeSet: String { case suite, model }

/// One op (or a forward and its backward) on one shape.
struct GPUShapeCase {
    let name: String
    let shape: String
    let run: (Engine) throws -> Void
}

/// The cases: the suite's shapes, or the access model's small ones.
func gpuShapeCases(_ set: GPUShapeSet) -> [GPUShapeCase] {
    let suite = set == .suite
    let rowShapes = suite ? SoftmaxBench.suiteShapes : [(8, 1024), (2, 131_072)]
    var cases: [GPUShapeCase] = []
    for (rows, cols) in rowShapes {
        let shape = "\(rows)x\(cols)"
        for kind in [SoftmaxKind.softmax, .logSoftmax, .logSumExp] {
            cases.append(GPUShapeCase(name: "softmax.\(kind)", shape: shape) { engine in
                _ = try engine.softmax(try values(engine, [rows, cols], seed: 1, range: 8), kind: kind)
            })
        }
        cases.append(GPUShapeCase(name: "softmax.backward", shape: shape) { engine in
            let y = try engine.softmax(try values(engine, [rows, cols], seed: 1, range: 8))
            _ = try engine.softmaxBackward(output: y, gradient: try values(engine, [rows, cols], seed: 2))
        })
        cases.append(GPUShapeCase(name: "normalizer.statistics", shape: shape) { engine in
            _ = try engine.normalizer(try values(engine, [rows, cols], seed: 3, range: 8))
        })
        cases.append(GPUShapeCase(name: "normalizer.logSumExp-backward", shape: shape) { engine in
            _ = try engine.logSumExpBackward(try values(engine, [rows, cols], seed: 4, range: 8),
                                             gradient: try values(engine, [rows, 1], seed: 5))
        })
        cases.append(GPUShapeCase(name: "topk.topK", shape: shape + "k8") { engine in
            _ = try engine.topK(try values(engine, [rows, cols], seed: 6, range: 8), k: 8)
        })
        cases.append(GPUShapeCase(name: "topk.softmaxTopK", shape: shape + "k8") { engine in
            _ = try engine.softmaxTopK(try values(engine, [rows, cols], seed: 7, range: 8), k: 8)
        })
    }
    for (m, n, k) in suite ? [(1024, 1024, 1024)] : [(128, 128, 256)] {
        cases.append(GPUShapeCase(name: "matmul", shape: "\(m)x\(n)x\(k)") { engine in
            _ = try engine.matmul(try values(engine, [m, k], seed: 8), try values(engine, [k, n], seed: 9))
        })
    }
    for (n, d, v) in suite ? [(1024, 1024, 16384)] : [(64, 64, 1024)] {
        let shape = "n\(n)d\(d)v\(v)"
        cases.append(GPUShapeCase(name: "cross-entropy.forward+backward", shape: shape) { engine in
            let e = try values(engine, [n, d], seed: 10), c = try values(engine, [v, d], seed: 11)
            let targets = try engine.tensor((0 ..< n).map { Int32(($0 * 7919) % v) }, shape: [n])
            var options = CrossEntropyOptions()
            options.returnLogSumExp = true
            let output = try engine.linearCrossEntropy(e, c, targets: targets, options: options)
            _ = try engine.linearCrossEntropyBackward(e, c, targets: targets, logSumExp: output.logSumExp,
                                                      options: options)
        })
    }
    let attention = suite ? [(8, 2048, 64), (8, 1024, 128)] : [(1, 128, 64), (1, 128, 128)]
    for (h, l, d) in attention {
        for (label, activation) in [("softmax", AttentionActivation.softmax), ("sigmoid", .sigmoid())] {
            cases.append(GPUShapeCase(name: "attention.\(label).forward+backward", shape: "h\(h)l\(l)d\(d)") { engine in
                let shape = [1, h, l, d]
                let q = try values(engine, shape, seed: 12), k = try values(engine, shape, seed: 13)
                let v = try values(engine, shape, seed: 14)
                let forward = try engine.attention(q, k, v, activation: activation)
                _ = try engine.attentionBackward(q, k, v, forward: forward, gradient: try values(engine, shape, seed: 15),
                                                 activation: activation)
            })
        }
    }
    return cases
}

private func values(_ engine: Engine, _ shape: [Int], seed: UInt64, range: Float = 2) throws -> Tensor {
    try engine.parityTensor(parityValues(shape.reduce(1, *), seed: seed, range: range), shape)
}
