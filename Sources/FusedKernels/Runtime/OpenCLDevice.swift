import Foundation
import COpenCL

/// One OpenCL device as found by platform/device discovery.
public struct OpenCLDevice: Hashable, Sendable, CustomStringConvertible {
    /// Position in the list of all devices of all platforms (the `N` of `opencl:N`).
    public let index: Int
    /// `CL_DEVICE_NAME`, e.g. `pthread-skylake-avx512-AMD EPYC` (PoCL).
    public let name: String
    /// The platform's `CL_PLATFORM_NAME`, e.g. `Portable Computing Language` or `Oclgrind`.
    public let platformName: String
    /// `CL_DEVICE_VENDOR`.
    public let vendor: String
    /// `CL_DRIVER_VERSION`: part of the program cache's key and of the tuning file's identity.
    public let driverVersion: String
    /// `CL_DEVICE_VERSION`, e.g. `OpenCL 3.0 PoCL …`.
    public let deviceVersion: String
    /// `CL_DEVICE_MAX_COMPUTE_UNITS`: `auto` and `opencl` pick the device with the most.
    public let computeUnits: Int
    /// `CL_DEVICE_GLOBAL_MEM_SIZE`.
    public let globalMemoryBytes: UInt64
    /// `CL_DEVICE_LOCAL_MEM_SIZE`: bounds the `__local` tiles of the GPU presets.
    public let localMemoryBytes: UInt64
    /// `CL_DEVICE_MAX_WORK_GROUP_SIZE`: bounds tuned work-group sizes.
    public let maxWorkGroupSize: Int
    /// CL_DEVICE_TYPE_CPU is set (PoCL, and Oclgrind, which reports every type).
    public let isCPU: Bool
    /// The `cl_device_id`, kept as bits so the struct stays `Sendable`.
    let handleBits: UInt
    let platformBits: UInt

    var handle: cl_device_id { cl_device_id(bitPattern: handleBits)! }
    var platform: cl_platform_id { cl_platform_id(bitPattern: platformBits)! }

    /// `opencl:N name [platform]`, e.g. `opencl:2 pthread-… [Portable Computing Language]`.
    public var description: String { "opencl:\(index) \(name) [\(platformName)]" }

    /// Whether this is the Oclgrind simulator (slow: it interprets every work-item).
    public var isSimulator: Bool { platformName.lowercased().contains("oclgrind") }

    /// Build options a device needs to compile our kernels correctly. Oclgrind 21.10's
    /// uninitialised-value checker crashes on optimised vector shuffles (see common.h);
    /// `FUSED_KERNELS_SIMULATOR_OPTIMIZE=1` builds optimised code anyway, for runs without
    /// that checker that count instructions (`make gpu-model`).
    var requiredBuildOptions: [String] {
        guard isSimulator, ProcessInfo.processInfo.environment["FUSED_KERNELS_SIMULATOR_OPTIMIZE"] != "1" else { return [] }
        return ["-cl-opt-disable", "-DFK_NO_FORCE_INLINE=1"]
    }

    /// Every device of every platform the ICD loader reports; empty when there is none.
    /// ``Engine/devices()`` is the same list with errors as ``FusedKernelsError``.
    ///
    /// - Throws: ``CLError`` when a platform or device query fails.
    public static func all() throws -> [OpenCLDevice] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        // The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR when no vendor is installed.
        if status == -1001 || platformCount == 0 { return [] }
        try CLError.check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try CLError.check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        var devices: [OpenCLDevice] = []
        for case let platform? in platforms {
            var count: cl_uint = 0
            let found = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count)
            if found == CL_DEVICE_NOT_FOUND || count == 0 { continue }
            try CLError.check(found, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(count))
            try CLError.check(
                clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, nil),
                "clGetDeviceIDs")
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            for case let id? in ids {
                devices.append(OpenCLDevice(
                    index: devices.count,
                    name: try deviceString(id, CL_DEVICE_NAME),
                    platformName: platformName,
                    vendor: try deviceString(id, CL_DEVICE_VENDOR),
                    driverVersion: try deviceString(id, CL_DRIVER_VERSION),
                    deviceVersion: try deviceString(id, CL_DEVICE_VERSION),
                    computeUnits: Int(try deviceValue(id, CL_DEVICE_MAX_COMPUTE_UNITS, as: cl_uint.self)),
                    globalMemoryBytes: try deviceValue(id, CL_DEVICE_GLOBAL_MEM_SIZE, as: cl_ulong.self),
                    localMemoryBytes: try deviceValue(id, CL_DEVICE_LOCAL_MEM_SIZE, as: cl_ulong.self),
                    maxWorkGroupSize: Int(try deviceValue(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, as: Int.self)),
                    isCPU: try deviceValue(id, CL_DEVICE_TYPE, as: cl_device_type.self) & cl_device_type(CL_DEVICE_TYPE_CPU) != 0,
                    handleBits: UInt(bitPattern: id),
                    platformBits: UInt(bitPattern: platform)))
            }
        }
        return devices
    }
}

private func platformString(_ platform: cl_platform_id, _ param: cl_platform_info) throws -> String {
    var size = 0
    try CLError.check(clGetPlatformInfo(platform, param, 0, nil, &size), "clGetPlatformInfo")
    var bytes = [CChar](repeating: 0, count: size + 1)
    try CLError.check(clGetPlatformInfo(platform, param, size, &bytes, nil), "clGetPlatformInfo")
    return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func deviceString(_ device: cl_device_id, _ param: Int32) throws -> String {
    let param = cl_device_info(param)
    var size = 0
    try CLError.check(clGetDeviceInfo(device, param, 0, nil, &size), "clGetDeviceInfo")
    var bytes = [CChar](repeating: 0, count: size + 1)
    try CLError.check(clGetDeviceInfo(device, param, size, &bytes, nil), "clGetDeviceInfo")
    return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .trimmingCharacters(in: .whitespaces)
}

private func deviceValue<T: FixedWidthInteger>(_ device: cl_device_id, _ param: Int32, as: T.Type) throws -> T {
    var value: T = 0
    try CLError.check(
        clGetDeviceInfo(device, cl_device_info(param), MemoryLayout<T>.size, &value, nil),
        "clGetDeviceInfo")
    return value
}
