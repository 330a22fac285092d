/// Flash attention on OpenCL (`Kernels/attention/`). (In progress: not yet encoded.)
extension Engine {
    func encodeAttentionForward(_ call: AttentionCall, output: Tensor, logSumExp: Tensor?, preset: KernelPreset,
                                on context: OpenCLContext) throws {
        throw FusedKernelsError.invalidArgument(argument: "device", reason: "attention kernels are not written yet")
    }

    func encodeAttentionBackward(_ call: AttentionCall, forward: AttentionOutput, gradient: Tensor,
                                 into gradients: AttentionGradients, preset: KernelPreset,
                                 on context: OpenCLContext) throws {
        throw FusedKernelsError.invalidArgument(argument: "device", reason: "attention kernels are not written yet")
    }
}
