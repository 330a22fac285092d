import COpenCL

/// What a built kernel needs of its device, as the driver reports it for that kernel:
/// its largest work-group and its `__local` memory (every kernel here declares its
/// `__local` tiles statically, so the size is known once the kernel is built). The one
/// device-limit check of every family: no hand-copied formula of a kernel's tiles.
struct KernelResources: Equatable, Sendable {
    /// `CL_KERNEL_WORK_GROUP_SIZE`: the most items per group this kernel can run with.
    let maxWorkGroupSize: Int
    /// `CL_KERNEL_LOCAL_MEM_SIZE`: bytes of `__local` memory a group of it uses.
    let localMemoryBytes: UInt64

    init(maxWorkGroupSize: Int, localMemoryBytes: UInt64) {
        self.maxWorkGroupSize = maxWorkGroupSize
        self.localMemoryBytes = localMemoryBytes
    }

    init(_ kernel: cl_kernel, device: OpenCLDevice) throws {
        var groupSize = 0
        var localBytes: cl_ulong = 0
        try CLError.check(clGetKernelWorkGroupInfo(kernel, device.handle, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                                   MemoryLayout<Int>.size, &groupSize, nil),
                          "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)")
        try CLError.check(clGetKernelWorkGroupInfo(kernel, device.handle, cl_kernel_work_group_info(CL_KERNEL_LOCAL_MEM_SIZE),
                                                   MemoryLayout<cl_ulong>.size, &localBytes, nil),
                          "clGetKernelWorkGroupInfo(CL_KERNEL_LOCAL_MEM_SIZE)")
        self.init(maxWorkGroupSize: groupSize, localMemoryBytes: UInt64(localBytes))
    }

    /// Throws `invalidArgument("preset")` naming the kernel, what it needs and what the
    /// device has, when a group of `grid` has more items than the kernel allows or the
    /// kernel's `__local` memory exceeds the device's.
    func check(_ grid: Grid, spec: KernelSpec, device: OpenCLDevice) throws {
        let items = grid.local?.reduce(1, *) ?? 1
        guard items > maxWorkGroupSize || localMemoryBytes > device.localMemoryBytes else { return }
        throw FusedKernelsError.invalidArgument(argument: "preset", reason:
            "\(spec) needs \(items) items per group and \(localMemoryBytes) B of local memory; on \(device.name) "
                + "it can run \(maxWorkGroupSize) items per group and the device has \(device.localMemoryBytes) B")
    }
}
