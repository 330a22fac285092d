import Foundation
import FusedKernels

/// One case on one device, as `parity --json` prints it (one object per line, every key
/// present, null where it does not apply).
struct ParityRecord: Codable, Equatable {
    /// `Engine.backend.description`: `opencl:N name [platform]`.
    var device: String
    /// cpu, gpu or simulator (`OpenCLDevice.kind`).
    var deviceType: String
    /// The engine-wide preset the run forced: auto, cpu or gpu.
    var preset: String
    var op: String
    /// The case's options: variant, masks, k, transposes…
    var variant: String
    var dtype: String
    var shape: [Int]
    /// The largest |a − b| / (atol + rtol·|b|) over every element of every output, a
    /// the device's value and b the CPU path's: a ratio to the tolerance, ≤ 1 passes;
    /// infinite for a NaN/inf mismatch or a differing top-k index. nil when skipped or
    /// when an engine threw.
    var maxError: Double?
    /// The output `maxError` came from (y, dx, indices, dQ…).
    var output: String?
    /// That output's tolerance (nil for indices, a skipped case or an error).
    var tolerance: Tolerance?
    /// nil when skipped.
    var pass: Bool?
    /// Why the case did not run here (a simulator's size limit).
    var skipped: String?
    /// What an engine threw, when one did (a failure).
    var error: String?

    enum CodingKeys: String, CodingKey {
        case device, deviceType = "device_type", preset, op, variant, dtype, shape, maxError = "max_error", output,
             tolerance, pass, skipped, error
    }

    /// Writes nil as null, so that every line has every key.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(device, forKey: .device)
        try container.encode(deviceType, forKey: .deviceType)
        try container.encode(preset, forKey: .preset)
        try container.encode(op, forKey: .op)
        try container.encode(variant, forKey: .variant)
        try container.encode(dtype, forKey: .dtype)
        try container.encode(shape, forKey: .shape)
        try container.encode(maxError, forKey: .maxError)
        try container.encode(output, forKey: .output)
        try container.encode(tolerance, forKey: .tolerance)
        try container.encode(pass, forKey: .pass)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(error, forKey: .error)
    }

    var shapeLabel: String { shape.map(String.init).joined(separator: "x") }

    /// A failure (out of tolerance, or an engine threw); a skipped case is not one.
    var failed: Bool { pass == false }

    /// Records from `--json` output, reading the "inf" and "nan" strings `jsonLine` writes.
    static func decodeLines(_ text: String) throws -> [ParityRecord] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf",
                                                                        negativeInfinity: "-inf", nan: "nan")
        return try text.split(whereSeparator: \.isNewline).map { try decoder.decode(ParityRecord.self, from: Data($0.utf8)) }
    }
}
