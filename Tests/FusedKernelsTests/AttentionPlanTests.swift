import Testing
@testable import FusedKernels

/// Attention's launches: one group per (query tile, head, batch) forward; Δ (softmax
/// only), then dQ per query tile and dK, dV per key tile of a key/value head.
@Suite struct AttentionPlanTests {
    func call(activation: AttentionActivation, d: Int = 64) throws -> AttentionCall {
        let engine = try Engine(device: "cpu")
        let q = try engine.empty(shape: [2, 8, 100, d], dtype: .float32)
        let kv = try engine.empty(shape: [2, 2, 300, d], dtype: .float32)
        return try AttentionCall(q, kv, kv, activation: activation, options: AttentionOptions(), engine: engine)
    }

    @Test func cpuPreset() throws {
        let softmax = try call(activation: .softmax)
        let forward = AttentionPlan(softmax, backward: false, device: TuningTests.device, gpu: false)
        #expect(forward.paddedHead == 64 && forward.tiles.kwg == 64)
        #expect(forward.launches.map(\.spec.entry) == ["attn_forward"])
        #expect(forward.launches[0].grid == Grid(global: [2, 8, 2], local: [1, 1, 1]), "⌈100/96⌉ tiles × 8 heads × 2")
        let backward = AttentionPlan(softmax, backward: true, device: TuningTests.device, gpu: false)
        #expect(backward.launches.map(\.spec.entry) == ["attn_delta", "attn_backward_query", "attn_backward_kv"])
        #expect(backward.launches[0].grid == .linear(2 * 8 * 100, groupSize: 1))
        #expect(backward.backwardKeyValue.grid == Grid(global: [4, 2, 2], local: [1, 1, 1]), "⌈300/96⌉ tiles × 2 kv heads")
        #expect(Set(backward.launches.map(\.spec.defines)).count == 1, "one program for the three backward kernels")
    }

    @Test func gpuPresetAndSigmoid() throws {
        let sigmoid = try call(activation: .sigmoid(), d: 72)
        let plan = AttentionPlan(sigmoid, backward: true, device: TuningTests.device, gpu: true)
        #expect(plan.delta == nil && plan.launches.map(\.spec.entry) == ["attn_backward_query", "attn_backward_kv"])
        #expect(plan.paddedHead == 96 && plan.tiles.kwg == 16, "D 72 in whole 32-column micro-tile rows (NR 2 × 16 items)")
        #expect(plan.backwardQuery.grid == Grid(global: [4 * 16, 8 * 16, 2], local: [16, 16, 1]))
        #expect(plan.launches[0].spec.defines.contains(.init(name: "ATT_SOFTMAX", value: "0")))
    }
}
