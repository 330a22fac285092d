import ArgumentParser

@main
struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel-bench",
        abstract: "Benchmarks FusedKernels' ops against the roofline measured in the same run.",
        subcommands: [Suite.self, Devices.self, RooflineBench.self, SoftmaxBench.self, TopKBench.self, MatmulBench.self,
                      CrossEntropyBench.self, AttentionBench.self, Tune.self, Cycle.self,
                      ReportCommand.self],
        defaultSubcommand: Suite.self
    )
}
