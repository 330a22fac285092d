import Foundation

/// Launch parameters of the softmax kernels for one class of shapes.
public struct SoftmaxLaunchParameters: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Whole rows each work-item owns (pass 2 of a row overlaps pass 1 of the next).
    public var rowsPerItem: Int
    /// float16 vectors per max-then-rescale step of the online pass: 1, 2, 4 or 8.
    public var chunk: Int
    /// Work-items per work-group (`WG_SIZE`), a power of two up to 256. The items of a
    /// group never cooperate; on a CPU device a group runs on one core.
    public var workGroupSize: Int

    public init(rowsPerItem: Int, chunk: Int, workGroupSize: Int = 1) {
        self.rowsPerItem = rowsPerItem
        self.chunk = chunk
        self.workGroupSize = workGroupSize
    }

    public var description: String { "rowsPerItem \(rowsPerItem), chunk \(chunk), workGroupSize \(workGroupSize)" }

    var isValid: Bool {
        (1 ... 64).contains(rowsPerItem) && [1, 2, 4, 8].contains(chunk)
            && (1 ... 256).contains(workGroupSize) && workGroupSize.nonzeroBitCount == 1
    }

    var defines: [String: CustomStringConvertible] {
        ["ROWS_PER_ITEM": rowsPerItem, "CHUNK": chunk, "WG_SIZE": workGroupSize]
    }

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
    /// The forward algorithm `auto` runs on short and long rows; nil: `block` on
    /// short rows of a CPU device, else `online` (the measured winners on PoCL).
    /// Never `twoPass` or `split`: the first is accurate only for |z| < ~9e4, the
    /// second is chosen by row count.
    public var softmaxShortRowsVariant: SoftmaxVariant?
    public var softmaxLongRowsVariant: SoftmaxVariant?
    /// Work-items per compute unit a softmax launch aims for: with fewer rows, rows
    /// per item shrink and then rows are split into column shards (`split`).
    public var itemsPerComputeUnit: Int
    /// `auto` splits a row only into shards of at least this many columns.
    public var minimumShardColumns: Int
    /// Rows each work-item of the top-k kernels owns.
    public var topKRowsPerItem: Int
    /// The matmul tiles `auto` uses on this device (nil: the preset of its type).
    public var matmul: MatmulParameters?

    /// Long rows start where the block kernel no longer holds a row.
    public static let longRowColumns = SoftmaxVariant.blockMaxColumns
    public static let defaults = TuningParameters(
        softmaxShortRows: SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8),
        softmaxLongRows: SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8))

    public init(softmaxShortRows: SoftmaxLaunchParameters, softmaxLongRows: SoftmaxLaunchParameters,
                softmaxShortRowsVariant: SoftmaxVariant? = nil, softmaxLongRowsVariant: SoftmaxVariant? = nil,
                itemsPerComputeUnit: Int = 4, minimumShardColumns: Int = 16384, topKRowsPerItem: Int = 4) {
        self.softmaxShortRows = softmaxShortRows
        self.softmaxLongRows = softmaxLongRows
        self.softmaxShortRowsVariant = softmaxShortRowsVariant
        self.softmaxLongRowsVariant = softmaxLongRowsVariant
        self.itemsPerComputeUnit = itemsPerComputeUnit
        self.minimumShardColumns = minimumShardColumns
        self.topKRowsPerItem = topKRowsPerItem
    }

    /// Rows per work-item for `rows` rows on `computeUnits`: at most `preferred`, fewer
    /// when rows are too few for `itemsPerComputeUnit` items on each compute unit.
    func rowsPerItem(_ preferred: Int, rows: Int, computeUnits: Int) -> Int {
        max(1, min(preferred, rows / (computeUnits * itemsPerComputeUnit)))
    }

    func softmax(cols: Int) -> SoftmaxLaunchParameters {
        cols <= Self.longRowColumns ? softmaxShortRows : softmaxLongRows
    }

    func softmaxVariant(cols: Int) -> SoftmaxVariant? {
        cols <= Self.longRowColumns ? softmaxShortRowsVariant : softmaxLongRowsVariant
    }

    var isValid: Bool {
        let automatic: Set<SoftmaxVariant> = [.online, .block, .threePass]
        return softmaxShortRows.isValid && softmaxLongRows.isValid
            && [softmaxShortRowsVariant, softmaxLongRowsVariant].allSatisfy { $0.map(automatic.contains) ?? true }
            && (1 ... 64).contains(itemsPerComputeUnit) && (16 ... 1 << 24).contains(minimumShardColumns)
            && (1 ... 64).contains(topKRowsPerItem)
    }
}

/// The tuning file of one device: parameters plus what they were measured against,
/// so that a file from another driver or older kernels is recognised as stale.
struct TuningFile: Codable, Equatable {
    static let currentFormat = 3

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
