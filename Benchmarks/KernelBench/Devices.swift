import Foundation
import ArgumentParser
import FusedKernels

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every OpenCL device and the CPU path.")

    func run() throws {
        let devices = try Engine.devices()
        if devices.isEmpty { print("no OpenCL platform or device found") }
        for device in devices {
            let memory = Double(device.globalMemoryBytes) / Double(1 << 30)
            print("opencl:\(device.index)  \(device.name)")
            print("    platform \(device.platformName), driver \(device.driverVersion), \(device.deviceVersion)")
            print("    \(device.computeUnits) compute units, \(String(format: "%.1f", memory)) GiB global memory, "
                + "\(device.localMemoryBytes / 1024) KiB local, max work-group \(device.maxWorkGroupSize)")
        }
        print("cpu  CPU SIMD path (\(ProcessInfo.processInfo.activeProcessorCount) threads)")
    }
}
