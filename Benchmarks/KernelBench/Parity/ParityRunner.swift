import Foundation
import FusedKernels

/// Runs cases on device engines against the CPU path, which runs each case once.
final class ParityRunner {
    let cases: [ParityCase]
    let preset: KernelPreset
    private let reference: Engine
    private var referenceOutputs: [Int: Result<[ParityOutput], Error>] = [:]

    /// Cases whose largest tensor exceeds this are skipped on a simulator: Oclgrind
    /// interprets every work-item, and the whole run there should take minutes, not hours.
    static let simulatorSizeLimit = 20_000

    init(cases: [ParityCase], preset: KernelPreset) throws {
        (self.cases, self.preset) = (cases, preset)
        reference = try Engine(device: "cpu")
    }

    /// Every case on `engine`, each record handed to `emit` as it is made.
    func run(on engine: Engine, emit: (ParityRecord) -> Void = { _ in }) -> [ParityRecord] {
        var isSimulator = false
        if case let .opencl(device) = engine.backend { isSimulator = device.isSimulator }
        return cases.indices.map { index in
            let item = cases[index]
            Progress.show("\(engine.backend) [\(index + 1)/\(cases.count)] \(item.op) \(item.variant) \(item.dtype)")
            var record = ParityRecord(device: engine.backend.description, deviceType: engine.deviceType,
                                      preset: preset.rawValue, op: item.op, variant: item.variant,
                                      dtype: item.dtype.rawValue, shape: item.shape)
            if isSimulator && item.size > Self.simulatorSizeLimit {
                record.skipped = "over \(Self.simulatorSizeLimit) elements on a simulator"
            } else {
                compare(item, index, on: engine, into: &record)
            }
            emit(record)
            return record
        }
    }

    private func compare(_ item: ParityCase, _ index: Int, on engine: Engine, into record: inout ParityRecord) {
        let expected = referenceOutputs[index] ?? Result { try item.run(reference) }
        referenceOutputs[index] = expected
        do {
            let want: [ParityOutput]
            do { want = try expected.get() } catch { throw CPUPathError(underlying: error) }
            let comparison = ParityComparison(device: try item.run(engine), reference: want)
            record.maxError = comparison.worstRatio
            record.output = comparison.worstOutput
            record.tolerance = comparison.tolerance
            record.pass = comparison.passes
        } catch {
            record.error = "\(error)"
            record.pass = false
        }
    }
}

/// The CPU path itself threw: nothing to compare against.
private struct CPUPathError: Error, CustomStringConvertible {
    let underlying: Error
    var description: String { "CPU path: \(underlying)" }
}

extension ParityRecord {
    init(device: String, deviceType: String, preset: String, op: String, variant: String, dtype: String, shape: [Int]) {
        self.init(device: device, deviceType: deviceType, preset: preset, op: op, variant: variant, dtype: dtype,
                  shape: shape, maxError: nil, output: nil, tolerance: nil, pass: nil, skipped: nil, error: nil)
    }
}
