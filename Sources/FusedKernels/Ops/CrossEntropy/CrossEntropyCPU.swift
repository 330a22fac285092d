// TEMPORARY (branch only)
extension Engine {
    func cpuCrossEntropyStatistics(_ call: CrossEntropyCall, arena: ScratchArena) throws -> CrossEntropyStatistics {
        fatalError("not written")
    }

    func cpuCrossEntropyBackward(_ call: CrossEntropyCall, logSumExp: [Float], weights: [Float],
                                 into gradients: LinearCrossEntropyGradients, arena: ScratchArena) throws {
        fatalError("not written")
    }
}
