import Foundation

/// Launch parameters of the softmax kernels for one class of shapes.
public struct SoftmaxLaunchParameters: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Whole rows each work-item owns (pass 2 of a row overlaps pass 1 of the next).
    public var rowsPerItem: Int
    /// float16 vectors per max-then-rescale step of the online pass: 1, 2, 4 or 8.
    public var chunk: Int

    public init(rowsPerItem: Int, chunk: Int) {
        self.rowsPerItem = rowsPerItem
        self.chunk = chunk
    }

    public var description: String { "rowsPerItem \(rowsPerItem), chunk \(chunk)" }

    var isValid: Bool { (1 ... 64).contains(rowsPerItem) && [1, 2, 4, 8].contains(chunk) }

    var buildOptions: [String] { ["-DROWS_PER_ITEM=\(rowsPerItem)", "-DCHUNK=\(chunk)", "-DWG_SIZE=1"] }

    func items(rows: Int) -> Int { (rows + rowsPerItem - 1) / rowsPerItem }
}

/// Per-device launch parameters: measured by `kernel-bench tune`, stored as JSON in
/// the cache directory, used by every engine on that device. Without a file (or with
/// a corrupt or stale one, which is ignored with a warning) the defaults apply; they
/// are the values measured best on PoCL pthread (Benchmarks/NOTES.md).
public struct TuningParameters: Codable, Hashable, Sendable {
    /// Rows of at most `longRowColumns` columns.
    public var softmaxShortRows: SoftmaxLaunchParameters
    /// Longer rows.
    public var softmaxLongRows: SoftmaxLaunchParameters

    /// Long rows start where the block kernel no longer holds a row.
    public static let longRowColumns = SoftmaxVariant.blockMaxColumns
    public static let defaults = TuningParameters(
        softmaxShortRows: SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8),
        softmaxLongRows: SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8))

    public init(softmaxShortRows: SoftmaxLaunchParameters, softmaxLongRows: SoftmaxLaunchParameters) {
        self.softmaxShortRows = softmaxShortRows
        self.softmaxLongRows = softmaxLongRows
    }

    /// The parameters for rows of `shape`.
    public func softmax(_ shape: Shape) -> SoftmaxLaunchParameters { softmax(cols: shape.cols) }

    func softmax(cols: Int) -> SoftmaxLaunchParameters {
        cols <= Self.longRowColumns ? softmaxShortRows : softmaxLongRows
    }

    var isValid: Bool { softmaxShortRows.isValid && softmaxLongRows.isValid }
}

/// The tuning file of one device: parameters plus what they were measured against,
/// so that a file from another driver or older kernels is recognised as stale.
struct TuningFile: Codable, Equatable {
    static let currentFormat = 1

    var format: Int
    var device: String
    var platform: String
    var driverVersion: String
    var kernelsHash: String
    var parameters: TuningParameters

    static func url(device: String, platform: String, environment: [String: String]) -> URL {
        BinaryCache.root(environment).appendingPathComponent("tuning")
            .appendingPathComponent("\(StableHash.hex(platform + "\u{1F}" + device)).json")
    }

    /// The stored parameters if the file exists and matches; otherwise the defaults,
    /// and for a file that exists but cannot be used, a warning saying why.
    static func load(for device: OpenCLDevice, kernelsHash: String,
                     environment: [String: String]) -> (TuningParameters, warning: String?) {
        let url = url(device: device.name, platform: device.platformName, environment: environment)
        guard let data = FileManager.default.contents(atPath: url.path) else { return (.defaults, nil) }
        guard let file = try? JSONDecoder().decode(TuningFile.self, from: data),
              file.format == currentFormat, file.parameters.isValid else {
            return (.defaults, "ignoring unreadable tuning file \(url.path); using defaults")
        }
        guard file.device == device.name, file.platform == device.platformName,
              file.driverVersion == device.driverVersion, file.kernelsHash == kernelsHash else {
            return (.defaults, "ignoring stale tuning file \(url.path) (measured on \(file.device), driver "
                + "\(file.driverVersion), other kernels); run `kernel-bench tune` again")
        }
        return (file.parameters, nil)
    }

    /// Writes atomically (temp file, then rename).
    func save(environment: [String: String]) throws -> URL {
        let url = Self.url(device: device, platform: platform, environment: environment)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
        return url
    }

}
