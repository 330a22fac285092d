import Foundation

/// Per-device launch parameters (see `TuningParameters`).
extension Engine {
    /// The launch parameters in use (from this device's tuning file, or the defaults).
    public var tuning: TuningParameters {
        tuningLock.lock()
        defer { tuningLock.unlock() }
        return tuningParameters
    }

    /// Uses `parameters` for this engine's launches from now on (not saved).
    public func useTuning(_ parameters: TuningParameters) throws {
        guard parameters.isValid else {
            throw FusedKernelsError.invalidArgument(argument: "parameters", reason: "out of range: \(parameters)")
        }
        let groupSize = max(parameters.softmaxShortRows.workGroupSize, parameters.softmaxLongRows.workGroupSize)
        if let device = context?.device, groupSize > device.maxWorkGroupSize {
            throw FusedKernelsError.invalidArgument(argument: "parameters", reason:
                "work-group size \(groupSize) exceeds \(device.name)'s maximum \(device.maxWorkGroupSize)")
        }
        tuningLock.lock()
        tuningParameters = parameters
        tuningLock.unlock()
    }

    /// Stores `parameters` as this device's tuning file (read by every later engine on
    /// the device) and uses them; returns the file's location.
    @discardableResult
    public func saveTuning(_ parameters: TuningParameters) throws -> URL {
        guard let device = context?.device else {
            throw FusedKernelsError.noOpenCLDevice(reason: "the CPU path has no launch parameters to tune")
        }
        try useTuning(parameters)
        let file = TuningFile(format: TuningFile.currentFormat, device: device.name, platform: device.platformName,
                              driverVersion: device.driverVersion, kernelsHash: tuningKernelsHash,
                              parameters: parameters)
        do {
            return try file.save(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw FusedKernelsError.invalidArgument(argument: "tuning file", reason: "could not be written: \(error)")
        }
    }

    /// What tuned parameters depend on: the kernels they were measured with.
    var tuningKernelsHash: String {
        ["softmax.cl", "topk.cl"].map { (try? loadSource($0).hash) ?? "" }.joined(separator: "+")
    }
}
