import Foundation
import Testing
import FusedKernels

/// The README's "Using the library" example is this function's body, character for
/// character: the tests compile and run it, and check that the README still shows it.
@Suite struct ReadmeTests {
    static func example() throws {
        // README-EXAMPLE-BEGIN
        let engine = try Engine()            // FUSED_KERNELS_DEVICE, else the best OpenCL device, else the CPU path
        print(engine.backend)                // e.g. "opencl:1 pthread-… [Portable Computing Language]"

        // Host arrays go in and out through one adapter; every op takes and returns tensors.
        let x = try engine.tensor([1, 2, 3, 4, 1, 1, 1, 1] as [Float], shape: [2, 4])
        let p = try engine.softmax(x)
        print(try p.array(of: Float.self))

        // Masks are tensors that broadcast to x: a [cols] mask applies to every row.
        let keep = try engine.tensor([true, true, false, true], shape: [4])
        let logp = try engine.softmax(x, kind: .logSoftmax, options: SoftmaxOptions(scale: 0.5, keepMask: keep))
        let lse = try engine.softmax(x, kind: .logSumExp)                    // shape [2, 1]
        let ones = try engine.tensor([Float](repeating: 1, count: 8), shape: [2, 4])
        let dx = try engine.softmaxBackward(output: logp, gradient: ones, kind: .logSoftmax, scale: 0.5)
        try engine.softmax(x, into: p)                                        // reuse an output in a loop

        // Any rank up to 4, over the last axis; views instead of copies.
        let scores = try engine.tensor((0 ..< 2 * 4 * 16 * 16).map { Float($0 % 7) }, shape: [2, 4, 16, 16])
        let causal = try engine.tensor((0 ..< 256).map { $0 % 16 <= $0 / 16 }, shape: [16, 16])
        let attention = try engine.softmax(scores, options: SoftmaxOptions(scale: 0.125, keepMask: causal))
        let firstHead = try attention.slice(axis: 1, 0 ..< 1)                  // [2, 1, 16, 16], no copy

        // fp16 / bf16 storage, fp32 arithmetic.
        let half = try engine.softmax(try engine.tensor([Float16](repeating: 0.5, count: 8), shape: [2, 4]))
        print(half.dtype, try half.array(of: Float.self))

        // Matmul: C = α·op(A)·op(B) + β·C, transposes and batches as strides.
        let a = try engine.tensor((0 ..< 64 * 32).map { Float($0 % 5) }, shape: [64, 32])
        let b = try engine.tensor((0 ..< 48 * 32).map { Float($0 % 3) }, shape: [48, 32])
        let c = try engine.matmul(a, b, transposeB: true)                      // [64, 48] = a·bᵀ

        // The online normalizer: per-row (max, sum), mergeable across column shards.
        let left = try engine.normalizer(try x.slice(axis: 1, 0 ..< 2))
        let right = try engine.normalizer(try x.slice(axis: 1, 2 ..< 4))
        let lseOfBoth = try NormalizerStatistics.merging([left, right]).logSumExp

        // Fused softmax + top-k: the k most probable entries per row from one read.
        let top = try engine.softmaxTopK(x, k: 2, scale: 1 / 0.7)
        print(try top.values.array(of: Float.self), try top.indices.array(of: Int32.self))

        // Cut cross-entropy: the loss of logits E·Cᵀ (+ bias) and its gradients, never forming them.
        let embeddings = try engine.tensor((0 ..< 8 * 32).map { Float($0 % 9) / 9 }, shape: [8, 32])     // E [N, D]
        let classifier = try engine.tensor((0 ..< 100 * 32).map { Float($0 % 7) / 7 }, shape: [100, 32]) // C [V, D]
        let targets = try engine.tensor([3, 7, 99, -100, 0, 5, 42, 8] as [Int32], shape: [8])             // -100: ignored
        let ce = try engine.linearCrossEntropy(embeddings, classifier, targets: targets,
                                              options: CrossEntropyOptions(labelSmoothing: 0.1, returnLogSumExp: true))
        let grads = try engine.linearCrossEntropyBackward(embeddings, classifier, targets: targets, logSumExp: ce.logSumExp,
                                                          options: CrossEntropyOptions(labelSmoothing: 0.1))
        print(try ce.loss.array(of: Float.self), grads.embeddings.shape, grads.classifier.shape)

        // Flash attention, sigmoid or softmax: causal, window, ALiBi, masks; 4 query heads share a key/value head.
        let q = try engine.tensor((0 ..< 1024).map { Float($0 % 11) / 11 }, shape: [2, 4, 16, 8])  // [B, Hq, Lq, D]
        let kv = try engine.tensor((0 ..< 256).map { Float($0 % 13) / 13 }, shape: [2, 1, 16, 8]) // [B, Hkv, Lk, D]
        let causalOnly = AttentionOptions(causal: true)
        let att = try engine.attention(q, kv, kv, activation: .sigmoid(), options: causalOnly)
        let dq = try engine.attentionBackward(q, kv, kv, forward: att, gradient: att.output, activation: .sigmoid(),
                                              options: causalOnly).query
        // README-EXAMPLE-END
        _ = (lse, dx, firstHead, c, lseOfBoth, dq)
    }

    @Test func exampleRuns() throws { try Self.example() }

    @Test func readmeShowsTheExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.contains("README-EXAMPLE-" + "BEGIN") })
        let end = try #require(lines.firstIndex { $0.contains("README-EXAMPLE-" + "END") })
        let body = lines[(begin + 1) ..< end].map { $0.count >= 8 ? String($0.dropFirst(8)) : $0.trimmingCharacters(in: .whitespaces) }
        let block = "```swift\nimport FusedKernels\n\n" + body.joined(separator: "\n") + "\n```"
        #expect(readme.contains(block), "README.md must show ReadmeTests.example() verbatim:\n\(block)")
    }
}
