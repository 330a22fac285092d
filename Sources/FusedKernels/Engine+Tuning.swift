import Foundation

/// Per-device parameters, one section per op family (see `TuningParameters`).
extension Engine {
    /// The parameters in use, every section: from this device's tuning file where a
    /// section of it applies, else that section's defaults.
    public var tuning: TuningParameters {
        tuningLock.lock()
        defer { tuningLock.unlock() }
        return tuningParameters
    }

    /// Uses `parameters` (every section) for this engine's launches from now on (not saved).
    ///
    /// - Throws: ``FusedKernelsError/invalidArgument(argument:reason:)`` when a section is
    ///   out of range, a softmax work-group size exceeds this device's maximum, or the
    ///   matmul tiles' kernel does not build or does not fit the device (its work-group size
    ///   or `__local` memory, as the built kernel reports them); nothing changes then.
    public func useTuning(_ parameters: TuningParameters) throws {
        if let section = TuningSection.allCases.first(where: { !parameters.isValid($0) }) {
            throw FusedKernelsError.invalidArgument(argument: "parameters", reason: "\(section) section out of range: \(parameters)")
        }
        if let device = context?.device {
            let groupSize = max(parameters.softmax.shortRows.workGroupSize, parameters.softmax.longRows.workGroupSize)
            if groupSize > device.maxWorkGroupSize {
                throw FusedKernelsError.invalidArgument(argument: "parameters", reason:
                    "softmax work-group size \(groupSize) exceeds \(device.name)'s maximum \(device.maxWorkGroupSize)")
            }
            if let matmul = parameters.matmul, let context {
                // the tiles' kernel, built and checked against the device (KernelResources)
                let plan = MatmulPlan(m: 1, n: 1, batch: 1, dtype: .float32, outputDType: .float32, parameters: matmul)
                do { try prepare(plan, on: context) } catch {
                    throw FusedKernelsError.invalidArgument(argument: "parameters", reason: "matmul \(matmul): \(error)")
                }
            }
        }
        tuningLock.lock()
        tuningParameters = parameters
        tuningLock.unlock()
    }

    /// Uses `parameters` and stores `sections` of them in this device's tuning file (read
    /// by every later engine on the device), each with the hash of the kernels it is
    /// measured with; the file's other sections are kept. Returns the file's location.
    ///
    /// The file is written atomically (a temporary file renamed over it). A `matmul`
    /// section saved with ``TuningParameters/matmul`` nil is removed from the file.
    ///
    /// - Throws: ``FusedKernelsError/noOpenCLDevice(reason:)`` on the CPU path, which has
    ///   nothing to tune; what ``useTuning(_:)`` throws; and
    ///   ``FusedKernelsError/invalidArgument(argument:reason:)`` when the file cannot be
    ///   written.
    @discardableResult
    public func saveTuning(_ parameters: TuningParameters,
                           sections: Set<TuningSection> = Set(TuningSection.allCases)) throws -> URL {
        guard let device = context?.device else {
            throw FusedKernelsError.noOpenCLDevice(reason: "the CPU path has no launch parameters to tune")
        }
        try useTuning(parameters)
        do {
            return try TuningFile.save(parameters, sections: sections, device: device, sourceHashes: tuningSourceHashes,
                                       environment: ProcessInfo.processInfo.environment)
        } catch {
            throw FusedKernelsError.invalidArgument(argument: "tuning file", reason: "could not be written: \(error)")
        }
    }

    /// Median device time in milliseconds of `body` (summed over the kernels it launches)
    /// over `repeat` runs after one warm-up run (which also compiles), with `parameters`
    /// in use; the engine's parameters are restored afterwards. Throws when `body`
    /// launched no kernel on the device (it ran on the CPU path). For `Tuner`.
    public func medianDeviceMilliseconds(with parameters: TuningParameters, repeat count: Int,
                                         _ body: () throws -> Void) throws -> Double {
        let previous = tuning
        try useTuning(parameters)
        defer { try? useTuning(previous) }
        try body()
        var samples: [Double] = []
        for _ in 0 ..< max(1, count) {
            let timings = try profile(body)
            guard !timings.isEmpty else {
                throw FusedKernelsError.invalidArgument(argument: "body", reason: "launched no kernel on \(backend)")
            }
            samples.append(timings.reduce(0) { $0 + $1.milliseconds })
        }
        return Tuner.median(samples)
    }

    /// What each section's parameters depend on: the hash of its kernel files, includes
    /// inlined ("" when the kernels cannot be found, which no stored section matches).
    var tuningSourceHashes: [TuningSection: String] {
        guard let sources = try? KernelSources(directory: kernelsDirectory) else {
            return Dictionary(uniqueKeysWithValues: TuningSection.allCases.map { ($0, "") })
        }
        return Dictionary(uniqueKeysWithValues: TuningSection.allCases.map { section in
            let files = section.kernelFiles(in: sources)
            let hashes = files.map { file in (try? loadSource(file)).map { "\(file):\($0.hash)" } }
            return (section, hashes.contains(nil) || files.isEmpty ? "" : StableHash.hex(hashes.map { $0! }.joined(separator: "\n")))
        })
    }

    /// Reads this device's tuning file from `environment`'s cache directory and uses the
    /// sections that apply, warning about the others.
    @discardableResult
    func reloadTuning(device: OpenCLDevice, environment: [String: String]) -> TuningLoad {
        let load = TuningFile.load(for: device, sourceHashes: tuningSourceHashes, environment: environment)
        tuningLock.lock()
        tuningParameters = load.parameters
        tuningLock.unlock()
        load.warnings.forEach(warnings.warn)
        return load
    }
}
