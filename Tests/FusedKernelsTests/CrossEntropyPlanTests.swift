import Testing
@testable import FusedKernels

/// Cut cross-entropy's launches and scratch: vocabulary splits that balance the compute
/// units within the partials' budget, one item per token in the row kernels, and the
/// backward's chunk of whole tiles within its byte budget.
@Suite struct CrossEntropyPlanTests {
    @Test func forwardSplitsTheVocabulary() {
        let device = TuningTests.device   // 2 compute units, a CPU device
        let plan = CrossEntropyPlan(n: 1024, columns: 65536, dtype: .float32, tiles: .cpu, loss: .reduced, device: device)
        // 11 token tiles of 96: ⌈32·2 / 11⌉ = 6 splits, under 512 KiB of partials
        #expect(plan.splits == 6 && plan.partialBytes == 1024 * 6 * 12)
        #expect(plan.launches.map(\.spec.entry) == ["cce_forward", "cce_statistics", "cce_loss", "cce_reduce"])
        #expect(plan.forward.grid == Grid(global: [6, 11], local: [1, 1]))
        #expect(plan.statistics.grid == .linear(1024, groupSize: 1))
        let statisticsOnly = CrossEntropyPlan(n: 7, columns: 100, dtype: .float16, tiles: .gpu, loss: .statisticsOnly,
                                              device: device)
        #expect(statisticsOnly.launches.map(\.spec.file) == [CrossEntropyKernels.forward, CrossEntropyKernels.forward])
        #expect(statisticsOnly.splits == 2, "no more splits than vocabulary tiles")
    }

    @Test func backwardChunksTheVocabulary() {
        let plan = CrossEntropyBackwardPlan(n: 1024, d: 1024, columns: 65536, dtype: .float16, hasBias: true, tiles: .cpu,
                                            device: TuningTests.device)
        #expect(plan.chunk == 8192, "32 MiB of fp32-sized dZ rows, whole 256-column tiles")
        #expect(plan.launches.map(\.spec.entry) == ["cce_dlogits", "matmul", "matmul", "cce_bias_grad"])
        #expect(plan.products.map { $0.launches[0].grid } == [Grid(global: [4, 11, 1], local: [1, 1, 1]),
                                                             Grid(global: [4, 86, 1], local: [1, 1, 1])],
                "dE over 1024 tokens, dC over the 8192-column chunk, 1024 features in 256-wide tiles")
        #expect(plan.products.map { $0.launches[0].spec.defines.first { $0.name == "OUT_DTYPE" }?.value } == ["0", "1"],
                "dE accumulates in fp32, dC is stored fp16")
        #expect(plan.dlogits(columns: 300).grid == Grid(global: [2, 11], local: [1, 1]))
        let shapes = plan.scratchShapes(n: 1024)
        #expect(shapes.dz == [1024, 8192] && shapes.mask == [11, 32] && shapes.biasPartials == [11, 8192])
        let small = CrossEntropyBackwardPlan(n: 5, d: 3, columns: 17, dtype: .float32, hasBias: false, tiles: .gpu,
                                             device: TuningTests.device)
        #expect(small.chunk == 64 && small.launches.count == 3 && small.scratchShapes(n: 5).biasPartials == nil)
    }
}
