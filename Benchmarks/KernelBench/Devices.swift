import ArgumentParser
import Foundation
import FusedKernels

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every OpenCL device and the CPU path: type, compute units, memory, OpenCL version, preset.")

    @Flag(help: "One JSON object per device.") var json = false

    func run() throws {
        let devices = try Engine.devices().map(DeviceRecord.init)
            + [DeviceRecord(cpuPathThreads: ProcessInfo.processInfo.activeProcessorCount)]
        if json { return devices.forEach { printJSON($0) } }
        for device in devices {
            print("\(device.selector)  \(device.name)  [\(device.type), preset \(device.preset)]")
            print("    \(device.platform), driver \(device.driver), \(device.openclVersion)")
            print("    \(device.computeUnits) compute units, " + String(format: "%.1f GiB", Double(device.memoryBytes) / 1_073_741_824)
                + " memory" + (device.localMemoryBytes > 0 ? ", \(device.localMemoryBytes / 1024) KiB local, "
                + "max work-group \(device.maxWorkGroupSize)" : ""))
        }
    }
}

/// One device as `devices` lists it.
struct DeviceRecord: Encodable {
    /// What `--device` takes to pick it: `opencl:N`, or `cpu`.
    let selector: String
    let name: String
    /// cpu, gpu, simulator, or cpu-path.
    let type: String
    let platform: String
    let driver: String
    let openclVersion: String
    let computeUnits: Int
    let memoryBytes: UInt64
    let localMemoryBytes: UInt64
    let maxWorkGroupSize: Int
    /// The kernel shapes `auto` picks there: cpu (one item, big register tiles) or gpu
    /// (cooperating work-groups, `__local` tiles); the CPU path runs Swift SIMD and BLAS.
    let preset: String

    enum CodingKeys: String, CodingKey {
        case selector, name, type, platform, driver, openclVersion = "opencl_version", computeUnits = "compute_units",
             memoryBytes = "memory_bytes", localMemoryBytes = "local_memory_bytes",
             maxWorkGroupSize = "max_work_group_size", preset
    }

    init(_ device: OpenCLDevice) {
        selector = "opencl:\(device.index)"
        name = device.name
        type = device.kind
        platform = device.platformName
        driver = device.driverVersion
        openclVersion = device.deviceVersion
        computeUnits = device.computeUnits
        memoryBytes = device.globalMemoryBytes
        localMemoryBytes = device.localMemoryBytes
        maxWorkGroupSize = device.maxWorkGroupSize
        preset = device.isCPU ? "cpu" : "gpu"
    }

    init(cpuPathThreads threads: Int) {
        selector = "cpu"
        name = "CPU path (Swift SIMD + OpenBLAS)"
        type = "cpu-path"
        platform = "none (no OpenCL)"
        driver = "-"
        openclVersion = "-"
        computeUnits = threads
        memoryBytes = ProcessInfo.processInfo.physicalMemory
        localMemoryBytes = 0
        maxWorkGroupSize = 0
        preset = "cpu path"
    }
}
