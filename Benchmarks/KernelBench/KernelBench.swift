import ArgumentParser

@main
struct KernelBench: ParsableCommand {
    /// The op families, in the order `suite` runs them.
    static let families: [any BenchFamily.Type] = [SoftmaxBench.self, NormalizerBench.self, TopKBench.self,
                                                    MatmulBench.self, CrossEntropyBench.self, AttentionBench.self]

    static let configuration = CommandConfiguration(
        commandName: "kernel-bench",
        abstract: "Benchmarks FusedKernels' ops against the roofline measured in the same run.",
        subcommands: [Suite.self, Devices.self, RooflineBench.self] + families
            + [Tune.self, Run.self, Parity.self, Cycle.self, ReportCommand.self, GPUShapes.self],
        defaultSubcommand: Suite.self
    )
}
