/// Which shape a kernel is built in: the one for CPU devices (work-items that do not
/// cooperate, whole rows or large register tiles each, explicit 16-wide vectors) or for
/// GPU devices (cooperating work-groups, `__local` memory, coalesced loads); `auto`
/// picks by the device's type.
public enum KernelPreset: String, Sendable, CaseIterable {
    /// The presets. `auto`: matmul and the linear cross-entropy use the device's tuned
    /// `matmul` tiles when there are some; otherwise, and for every other op (attention,
    /// the softmax family, top-k, `copy`, `fmaPeak`) always, `gpu`
    /// on devices that are not CPUs and `cpu` on CPU devices. `cpu`: one work-item per
    /// group with large register tiles (``MatmulParameters/cpu`` for matmul), or whole
    /// rows per work-item (the softmax family and top-k). `gpu`: cooperating
    /// work-items with `__local` tiles (``MatmulParameters/gpu``), or a work-group per
    /// row (the softmax family and top-k, ``SoftmaxTuning/gpuWorkGroupSize``). Ignored on
    /// the CPU path. A kernel whose work-group or `__local` memory exceeds what the built
    /// kernel may use on the device (`CL_KERNEL_WORK_GROUP_SIZE`, `CL_KERNEL_LOCAL_MEM_SIZE`
    /// against the device's local memory) throws
    /// ``FusedKernelsError/invalidArgument(argument:reason:)`` for `preset`, before the op
    /// allocates or launches anything.
    case auto, cpu, gpu

}

extension Engine {
    /// An op's preset with `auto` replaced by the engine's ``preset`` (itself maybe `auto`).
    func resolved(_ preset: KernelPreset) -> KernelPreset { preset == .auto ? self.preset : preset }

    /// Whether an op given `preset` runs its GPU shape on `device`: `gpu`, or `auto` on a
    /// device that is not a CPU (``preset`` standing in for an op's `auto` first).
    func usesGPUShape(_ preset: KernelPreset, on device: OpenCLDevice) -> Bool {
        let preset = resolved(preset)
        return preset == .gpu || (preset == .auto && !device.isCPU)
    }

    /// Whether an op given `preset` runs its GPU-shaped kernels on this engine (never on
    /// the CPU path); tuned matmul tiles aside, which `auto` may prefer.
    public func usesGPUShape(_ preset: KernelPreset) -> Bool {
        guard let device = context?.device else { return false }
        return usesGPUShape(preset, on: device)
    }
}
