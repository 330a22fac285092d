import Testing
@testable import FusedKernels

/// The normalizer's plan is the softmax kernels' statistics output (or, for the
/// log-sum-exp backward, softmax with a row factor): same layouts, its own output mode.
@Suite struct NormalizerPlanTests {
    @Test(arguments: [false, true]) func statisticsUseTheSoftmaxLayouts(gpu: Bool) throws {
        let engine = try Engine(device: "cpu")
        let x = try engine.tensor([Float](repeating: 0, count: 3 * 40_000), shape: [3, 40_000])
        let call = try NormalizerCall(statisticsOf: x, options: SoftmaxOptions(), engine: engine)
        let plan = NormalizerPlan(call, device: TuningTests.device, tuning: .defaults, gpu: gpu)
        #expect(plan.launches == plan.softmax.launches && plan.launches.count == 2, "three long rows are split into shards")
        #expect(plan.launches.allSatisfy { $0.spec.defines.contains(.init(name: "OUTPUT_MODE", value: "3")) })
        #expect(plan.launches[1].grid.global[0] == (gpu ? 3 * 256 : 3), "one item (or group) per row writes its pair")
    }

    @Test func logSumExpBackwardIsSoftmaxWithARowFactor() throws {
        let engine = try Engine(device: "cpu")
        let x = try engine.tensor([Float](repeating: 0, count: 8 * 100), shape: [8, 100])
        let dlse = try engine.tensor([Float](repeating: 1, count: 8), shape: [8, 1])
        let call = try NormalizerCall(logSumExpBackwardOf: x, gradient: dlse, options: SoftmaxOptions(), engine: engine)
        let plan = NormalizerPlan(call, device: TuningTests.device, tuning: .defaults, gpu: false)
        #expect(plan.launches.count == 1)
        #expect(plan.launches[0].spec.defines.contains(.init(name: "OUTPUT_MODE", value: "0")))
        #expect(throws: FusedKernelsError.shapeMismatch(argument: "gradient", expected: [8, 1], actual: [8])) {
            try NormalizerCall(logSumExpBackwardOf: x, gradient: try engine.tensor([Float](repeating: 1, count: 8), shape: [8]),
                               options: SoftmaxOptions(), engine: engine)
        }
    }
}
