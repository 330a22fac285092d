/// The normalizer on an OpenCL device: the softmax family's kernels with the statistics
/// output (one (m, d) pair per row: the same layouts, shards and GPU segments as a
/// softmax of that shape), or, for the log-sum-exp backward, the softmax forward with a
/// per-row factor. One plan type, so the normalizer's launches are inspected like every
/// other family's.
struct NormalizerPlan: KernelPlan, Equatable {
    let softmax: SoftmaxPlan

    var launches: [KernelLaunch] { softmax.launches }

    init(_ call: NormalizerCall, device: OpenCLDevice, tuning: TuningParameters, gpu: Bool) {
        softmax = SoftmaxPlan(call.softmax, device: device, tuning: tuning, gpu: gpu)
    }
}
