// TEMPORARY (branch only): the OpenCL encoding is being written; these fall back to the CPU path.
extension Engine {
    func encodeCrossEntropyStatistics(_ call: CrossEntropyCall, into stats: Tensor, arena: ScratchArena,
                                      preset: KernelPreset, on context: OpenCLContext) throws {
        throw FusedKernelsError.kernelSourcesNotFound(searched: ["cce (not written yet)"])
    }

    func encodeCrossEntropyLoss(_ call: CrossEntropyCall, statistics: Tensor, loss: Tensor?, logSumExp: Tensor,
                                arena: ScratchArena, on context: OpenCLContext) throws {
        throw FusedKernelsError.kernelSourcesNotFound(searched: ["cce (not written yet)"])
    }

    func encodeCrossEntropyBackward(_ call: CrossEntropyCall, logSumExp: Tensor, weights: Tensor,
                                    into gradients: LinearCrossEntropyGradients, arena: ScratchArena,
                                    preset: KernelPreset, on context: OpenCLContext) throws {
        throw FusedKernelsError.kernelSourcesNotFound(searched: ["cce (not written yet)"])
    }
}
