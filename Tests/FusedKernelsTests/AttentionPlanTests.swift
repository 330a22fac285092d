import Testing
@testable import FusedKernels

/// Attention's launches: one group per (query tile, head, batch) forward; Δ (softmax
/// only), then dQ per query tile and dK, dV per key tile of a key/value head.
@Suite struct AttentionPlanTests {
    func call(activation: AttentionActivation, d: Int = 64, masked: Bool = false) throws -> AttentionCall {
        let engine = try Engine(device: "cpu")
        let q = try engine.empty(shape: [2, 8, 100, d], dtype: .float32)
        let kv = try engine.empty(shape: [2, 2, 300, d], dtype: .float32)
        let options = masked ? AttentionOptions(additiveMask: try engine.empty(shape: [100, 300], dtype: .float32))
            : AttentionOptions()
        return try AttentionCall(q, kv, kv, activation: activation, options: options, engine: engine)
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

    /// The GPU backward (`attention/backward_gpu.cl`): dQ per 64 (D ≤ 64) or 32 query
    /// rows, dK and dV per 32 key rows (one row an item: two accumulators), each with its
    /// own tiles; `backward.cl` on lib/gemm.h's tiles where none fit (D > 128).
    @Test func gpuBackward() throws {
        let sigmoid = try call(activation: .sigmoid(), d: 72)
        let plan = AttentionPlan(sigmoid, backward: true, device: TuningTests.device, gpu: true)
        #expect(plan.delta == nil && plan.launches.map(\.spec.entry) == ["attn_backward_query", "attn_backward_kv"])
        let tiles = try #require(plan.flashBackward)
        #expect(tiles[0] == FlashTiles(.backwardQuery, rows: 32, keys: 16, rowsPerItem: 1, d: 72, softmax: false))
        #expect(tiles[0].paddedHead == 80 && tiles[0].itemsPerGroup == 128
                && tiles[0].localBytes == 4 * (2 * 48 * 84 + 16 * 36), "64 × 32 needs 4·(2·96·100 + 32·68) B")
        #expect(tiles[1] == FlashTiles(.backwardKeyValue, rows: 32, keys: 32, rowsPerItem: 1, d: 72, softmax: false))
        #expect(tiles[1].paddedHead == 96 && tiles[1].itemsPerGroup == 256 && tiles[1].accumulatorFloats == 24)
        #expect(plan.backwardQuery.grid == Grid(global: [4 * 128, 8, 2], local: [128, 1, 1]), "⌈100/32⌉ tiles × 8 heads")
        #expect(plan.backwardKeyValue.grid == Grid(global: [10 * 256, 2, 2], local: [256, 1, 1]), "⌈300/32⌉ × 2 kv heads")
        #expect(plan.launches.allSatisfy { $0.spec.file == AttentionKernels.backwardGPU })
        #expect(plan.launches[0].spec.defines.contains(.init(name: "ATT_SOFTMAX", value: "0")))
        #expect(plan.backwardQuery.spec.defines.contains(.init(name: "ATT_PASS", value: "1"))
                && plan.backwardKeyValue.spec.defines.contains(.init(name: "ATT_PASS", value: "2")),
                "each gradient kernel in a program of its own tiles: the other's may not fit (gfx90a: 69.9 KB)")

        let softmax = AttentionPlan(try call(activation: .softmax), backward: true, device: TuningTests.device, gpu: true)
        #expect(softmax.launches.map(\.spec.entry) == ["attn_delta", "attn_backward_query", "attn_backward_kv"])
        #expect(softmax.delta?.spec.defines == softmax.backwardQuery.spec.defines, "Δ is built in dQ's program")
        #expect(softmax.flashBackward == [FlashTiles(.backwardQuery, rows: 64, keys: 32, rowsPerItem: 2, d: 64, softmax: true),
                                          FlashTiles(.backwardKeyValue, rows: 32, keys: 32, rowsPerItem: 1, d: 64, softmax: true)])
        #expect(softmax.flashBackward?.map(\.localBytes) == [60928, 44288], "the kernels' LDS Size (llc, gfx90a)")
        let d128 = [FlashTiles(.backwardQuery, d: 128, softmax: true, localBytes: 1 << 16),
                    FlashTiles(.backwardKeyValue, d: 128, softmax: true, localBytes: 1 << 16)]
        #expect(d128 == [FlashTiles(.backwardQuery, rows: 32, keys: 16, rowsPerItem: 1, d: 128, softmax: true),
                         FlashTiles(.backwardKeyValue, rows: 32, keys: 16, rowsPerItem: 1, d: 128, softmax: true)])
        #expect(d128.map { $0?.localBytes } == [52992, 55424])

        let d256 = AttentionPlan(try call(activation: .softmax, d: 256), backward: true, device: TuningTests.device, gpu: true)
        #expect(d256.flashBackward == nil && d256.launches.allSatisfy { $0.spec.file == AttentionKernels.backward })
        #expect(d256.paddedHead == 256 && d256.tiles.kwg == 16)
        #expect(d256.backwardQuery.grid == Grid(global: [4 * 16, 8 * 16, 2], local: [16, 16, 1]))
    }

    /// The GPU forward (`attention/forward_gpu.cl`): 64 query rows a group; 64 keys a tile
    /// and 4 rows an item (256 items) up to D 64, 32 keys and 2 rows an item beyond; the
    /// `__local` bytes are Q, the K/V tile, Pᵀ and (softmax) the row exchange, in fp32 rows
    /// padded by 4 floats, within 64 KiB.
    @Test func gpuForward() throws {
        let plan = AttentionPlan(try call(activation: .softmax), backward: false, device: TuningTests.device, gpu: true)
        let f = try #require(plan.flash)
        #expect(f == FlashTiles(.forward, rows: 64, keys: 64, rowsPerItem: 4, d: 64, softmax: true))
        #expect(f.paddedHead == 64 && f.itemsPerGroup == 256)
        #expect(f.localBytes == 4 * (64 * 68 + 64 * 68 + 64 * 68 + 16 * 68) && f.localBytes == 56576,
                "the kernel's LDS Size for these defines (llc, gfx90a)")
        #expect(plan.forward.spec.file == AttentionKernels.forwardGPU && plan.launches.map(\.spec.entry) == ["attn_forward"])
        #expect(plan.forward.grid == Grid(global: [2 * 256, 8, 2], local: [256, 1, 1]), "⌈100/64⌉ tiles × 8 heads × 2")
        let defines = Dictionary(uniqueKeysWithValues: plan.forward.spec.defines.map { ($0.name, $0.value) })
        #expect(defines == ["ATT_BM": "64", "ATT_BN": "64", "ATT_RM": "4", "ATT_DP": "64", "ATT_SOFTMAX": "1",
                            "ATT_MASKS": "0", "DTYPE": "0"])

        let d128 = try #require(AttentionPlan(try call(activation: .softmax, d: 128, masked: true), backward: false,
                                              device: TuningTests.device, gpu: true).flash)
        #expect(d128 == FlashTiles(.forward, rows: 64, keys: 32, rowsPerItem: 2, d: 128, softmax: true))
        #expect(d128.itemsPerGroup == 256 && d128.localBytes == 61568, "64 × 64 at D 128 would need 4·(128·132 + 80·68) B")
        let masked = AttentionPlan(try call(activation: .softmax, d: 128, masked: true), backward: false,
                                   device: TuningTests.device, gpu: true)
        #expect(masked.forward.spec.defines.contains(.init(name: "ATT_MASKS", value: "1")))

        let sigmoid = try #require(AttentionPlan(try call(activation: .sigmoid(), d: 72), backward: false,
                                                 device: TuningTests.device, gpu: true).flash)
        #expect(sigmoid == FlashTiles(.forward, rows: 64, keys: 32, rowsPerItem: 2, d: 72, softmax: false))
        #expect(sigmoid.paddedHead == 96 && sigmoid.localBytes == 4 * (96 * 100 + 32 * 68), "no row exchange for σ")

        let d256 = try #require(FlashTiles(.forward, d: 256, softmax: true, localBytes: 1 << 20))
        #expect(d256 == FlashTiles(.forward, rows: 16, keys: 32, rowsPerItem: 2, d: 256, softmax: true))
        #expect(d256.itemsPerGroup == 64 && d256.localBytes == 4 * (48 * 260 + 40 * 20))
        // a device of 32 KiB (Oclgrind): D 16 in 64 × 32 tiles, head padded to 32
        let small = try #require(FlashTiles(.forward, d: 16, softmax: true, localBytes: 32768))
        #expect(small == FlashTiles(.forward, rows: 64, keys: 32, rowsPerItem: 2, d: 16, softmax: true))
        #expect(small.paddedHead == 32 && small.localBytes == 24704)
        #expect(FlashTiles(.forward, d: 64, softmax: false, localBytes: 1 << 20)?.keys == 64, "D 64: 64 × 64 tiles")
        #expect(FlashTiles(.forward, d: 65, softmax: false, localBytes: 1 << 20)?.keys == 32)
        let cpu = AttentionPlan(try call(activation: .softmax), backward: false, device: TuningTests.device, gpu: false)
        #expect(cpu.flash == nil && cpu.forward.spec.file == AttentionKernels.forward)
    }
}
