import Testing
@testable import FusedKernels

/// Matmul's launch: one group per MWG × NWG tile of C and batch, the tiles as defines.
@Suite struct MatmulPlanTests {
    @Test func oneGroupPerTileAndBatch() {
        let cpu = MatmulPlan(m: 1000, n: 300, batch: 3, dtype: .float16, outputDType: .float32, parameters: .cpu)
        #expect(cpu.launches.count == 1 && cpu.launches[0].spec.file == MatmulKernels.matmul)
        #expect(cpu.launches[0].grid == Grid(global: [2, 11, 3], local: [1, 1, 1]), "⌈300/256⌉ × ⌈1000/96⌉ × 3")
        #expect(cpu.launches[0].spec.defines.contains(.init(name: "OUT_DTYPE", value: "0")))
        #expect(cpu.launches[0].spec.defines.contains(.init(name: "DTYPE", value: "1")))
        let gpu = MatmulPlan(m: 1024, n: 1024, batch: 1, dtype: .float32, outputDType: .float32, parameters: .gpu)
        #expect(gpu.launches[0].grid == Grid(global: [16 * 16, 16 * 8, 1], local: [16, 8, 1]),
                "16 × 16 tiles of 64 × 64, 16 × 8 items each")
        #expect(gpu.launches[0].spec.description
                    == "matmul/matmul.cl:matmul -DDTYPE=0 -DKWG=16 -DMDIMC=8 -DMR=8 -DMWG=64 -DNDIMC=16 -DNR=4 -DNWG=64 "
                    + "-DOUT_DTYPE=0 -DVWN=4")
    }
}
