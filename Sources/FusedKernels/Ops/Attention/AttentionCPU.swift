/// Flash attention on the CPU path. (In progress.)
extension Engine {
    func cpuAttentionForward(_ call: AttentionCall, output: Tensor, logSumExp: Tensor?) throws {
        throw FusedKernelsError.invalidArgument(argument: "device", reason: "the attention CPU path is not written yet")
    }

    func cpuAttentionBackward(_ call: AttentionCall, forward: AttentionOutput, gradient: Tensor,
                              into gradients: AttentionGradients) throws {
        throw FusedKernelsError.invalidArgument(argument: "device", reason: "the attention CPU path is not written yet")
    }
}
