/// One launch of a plan: a kernel and its grid. Arguments are bound when the plan runs.
struct KernelLaunch: Equatable, CustomStringConvertible {
    let spec: KernelSpec
    let grid: Grid

    var description: String { "\(spec) \(grid)" }
}

/// What an op runs on an OpenCL device, worked out from its checked call, the device's
/// description and the tuning before anything is allocated or launched: a value that
/// tests inspect without a device. Each family's OpenCL encoding only executes its plan.
protocol KernelPlan {
    /// Every launch, in the order the encoding makes them.
    var launches: [KernelLaunch] { get }
}

extension Engine {
    /// Builds every kernel of `plan` (through the program caches) and checks each against
    /// the device's limits (`KernelResources`), so that a kernel that cannot build or run
    /// fails before the op allocates or writes anything.
    func prepare(_ plan: some KernelPlan, on context: OpenCLContext) throws {
        for launch in plan.launches {
            try builtKernel(launch.spec, on: context).resources.check(launch.grid, spec: launch.spec, device: context.device)
        }
    }

    /// Runs one launch of a plan with `arguments`.
    func launch(_ launch: KernelLaunch, _ arguments: KernelArguments, on context: OpenCLContext) throws {
        try self.launch(launch.spec, launch.grid, arguments, on: context)
    }
}
