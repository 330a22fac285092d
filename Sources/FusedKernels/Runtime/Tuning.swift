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

    /// Parameters for one row class. In range: `rowsPerItem` 1...64, `chunk` 1, 2, 4 or 8,
    /// `workGroupSize` a power of two up to 256 (``Engine/useTuning(_:)`` checks).
    public init(rowsPerItem: Int, chunk: Int, workGroupSize: Int = 1) {
        self.rowsPerItem = rowsPerItem
        self.chunk = chunk
        self.workGroupSize = workGroupSize
    }

    /// The three values, e.g. `rowsPerItem 8, chunk 8, workGroupSize 1`.
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

/// An op family with its own section in a device's tuning file. Each section carries
/// its own format version and the hash of exactly the kernel files its parameters were
/// measured with, so that editing one family's kernels discards only that family's tuning.
public enum TuningSection: String, CaseIterable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// `SoftmaxTuning`: launch parameters, variants, split factor, shard columns.
    case softmax
    /// `TopKTuning`: rows per work-item.
    case topk
    /// `MatmulParameters`: the tiles `auto` uses.
    case matmul

    /// The version of the section's layout and meaning; a stored section of another
    /// version is ignored. Bump it when a section's parameters change meaning.
    public var format: Int {
        switch self {
        case .softmax: return 3
        case .topk: return 2
        case .matmul: return 1
        }
    }

    /// The section's key in the tuning file: `softmax`, `topk` or `matmul`.
    public var description: String { rawValue }

    /// The kernel files (paths under `Kernels/`) the section is measured with; each is
    /// hashed with its `#include`s inlined, so the headers they use count too.
    func kernelFiles(in sources: KernelSources) -> [String] {
        switch self {
        case .softmax: return sources.files(under: "softmax")
        case .topk: return sources.files(under: "topk")
        case .matmul: return ["matmul/matmul.cl"]
        }
    }
}

/// The softmax section: launch parameters and the algorithm `auto` runs per row class,
/// and how rows too few for the compute units are cut into column shards.
public struct SoftmaxTuning: Codable, Hashable, Sendable {
    /// Rows of at most `longRowColumns` columns.
    public var shortRows: SoftmaxLaunchParameters
    /// Longer rows.
    public var longRows: SoftmaxLaunchParameters
    /// The forward algorithm `auto` runs on short and long rows; nil: `block` on
    /// short rows of a CPU device, else `online` (the measured winners on PoCL).
    /// Never `twoPass` or `split`: the first is accurate only for |z| < ~9e4, the
    /// second is chosen by row count.
    public var shortRowsVariant: SoftmaxVariant?
    /// The forward algorithm `auto` runs on long rows (more than ``longRowColumns``);
    /// nil: `online`. Never `twoPass` or `split`, as for ``shortRowsVariant``.
    public var longRowsVariant: SoftmaxVariant?
    /// Work-items per compute unit a CPU-preset launch aims for (softmax and top-k): with
    /// fewer rows, rows per item shrink and then rows are split into column shards (`split`).
    public var itemsPerComputeUnit: Int
    /// Work-groups per compute unit a GPU-preset launch aims for (softmax and top-k): with
    /// fewer rows, long rows are cut into column shards of a group each.
    public var gpuGroupsPerComputeUnit: Int
    /// `auto` splits a row only into shards of at least this many columns.
    public var minimumShardColumns: Int
    /// Work-items per work-group of the GPU preset (a power of two, 64...1024; the
    /// device's maximum when that is smaller): one group per row, or per block of rows
    /// short enough to share it; a long row is cut into shards of a group each.
    public var gpuWorkGroupSize: Int

    /// Long rows start where the block kernel no longer holds a row.
    public static let longRowColumns = SoftmaxVariant.blockMaxColumns
    /// The values measured best on PoCL pthread (Benchmarks/NOTES.md).
    public static let defaults = SoftmaxTuning(shortRows: SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8),
                                               longRows: SoftmaxLaunchParameters(rowsPerItem: 8, chunk: 8))

    /// The softmax section. In range: valid launch parameters, variants `online`, `block`
    /// or `threePass` (or nil), `itemsPerComputeUnit` 1...64, `minimumShardColumns`
    /// 16...2²⁴, `gpuWorkGroupSize` a power of two in 64...1024 and
    /// `gpuGroupsPerComputeUnit` 1...64.
    public init(shortRows: SoftmaxLaunchParameters, longRows: SoftmaxLaunchParameters,
                shortRowsVariant: SoftmaxVariant? = nil, longRowsVariant: SoftmaxVariant? = nil,
                itemsPerComputeUnit: Int = 4, minimumShardColumns: Int = 16384, gpuWorkGroupSize: Int = 256,
                gpuGroupsPerComputeUnit: Int = 4) {
        self.gpuWorkGroupSize = gpuWorkGroupSize
        self.gpuGroupsPerComputeUnit = gpuGroupsPerComputeUnit
        self.shortRows = shortRows
        self.longRows = longRows
        self.shortRowsVariant = shortRowsVariant
        self.longRowsVariant = longRowsVariant
        self.itemsPerComputeUnit = itemsPerComputeUnit
        self.minimumShardColumns = minimumShardColumns
    }

    var isValid: Bool {
        let automatic: Set<SoftmaxVariant> = [.online, .block, .threePass]
        return shortRows.isValid && longRows.isValid
            && [shortRowsVariant, longRowsVariant].allSatisfy { $0.map(automatic.contains) ?? true }
            && (1 ... 64).contains(itemsPerComputeUnit) && (16 ... 1 << 24).contains(minimumShardColumns)
            && isGPUWorkGroupSize(gpuWorkGroupSize) && (1 ... 64).contains(gpuGroupsPerComputeUnit)
    }
}

/// The top-k section.
public struct TopKTuning: Codable, Hashable, Sendable {
    /// Rows each work-item of the top-k kernels owns (fewer when rows are few).
    public var rowsPerItem: Int
    /// Work-items per work-group of the GPU preset (a power of two, 64...1024): one
    /// group per row (or row shard), whose items' candidate lists merge in `__local`
    /// memory. Fewer when k candidates per item would not fit the device's local memory
    /// or the group exceeds the device's maximum.
    public var gpuWorkGroupSize: Int

    /// Four rows per work-item; 128 items per GPU work-group.
    public static let defaults = TopKTuning(rowsPerItem: 4)

    /// The top-k section; `rowsPerItem` in 1...64, `gpuWorkGroupSize` a power of two in
    /// 64...1024.
    public init(rowsPerItem: Int, gpuWorkGroupSize: Int = 128) {
        self.rowsPerItem = rowsPerItem
        self.gpuWorkGroupSize = gpuWorkGroupSize
    }

    var isValid: Bool { (1 ... 64).contains(rowsPerItem) && isGPUWorkGroupSize(gpuWorkGroupSize) }
}

/// A GPU preset's work-group size: a power of two in 64...1024.
func isGPUWorkGroupSize(_ size: Int) -> Bool { (64 ... 1024).contains(size) && size.nonzeroBitCount == 1 }

/// Per-device parameters, one section per op family: measured by `kernel-bench tune`,
/// stored as JSON in the cache directory, used by every engine on that device. A section
/// the file lacks, or holds corrupt, stale or out of range, is ignored with a warning and
/// that op uses its defaults (the values measured best on PoCL pthread); the other
/// sections still apply.
public struct TuningParameters: Codable, Hashable, Sendable {
    /// The `softmax` section (also the split factor top-k uses).
    public var softmax: SoftmaxTuning
    /// The `topk` section.
    public var topK: TopKTuning
    /// The matmul tiles `auto` uses on this device (nil: the preset of its type).
    public var matmul: MatmulParameters?

    /// Every section's defaults: what an engine uses with no tuning file.
    public static let defaults = TuningParameters()

    /// Parameters from the given sections (each defaults to its defaults).
    public init(softmax: SoftmaxTuning = .defaults, topK: TopKTuning = .defaults, matmul: MatmulParameters? = nil) {
        self.softmax = softmax
        self.topK = topK
        self.matmul = matmul
    }

    /// Rows per work-item for `rows` rows on `computeUnits`: at most `preferred`, fewer
    /// when rows are too few for `itemsPerComputeUnit` items on each compute unit.
    func rowsPerItem(_ preferred: Int, rows: Int, computeUnits: Int) -> Int {
        max(1, min(preferred, rows / (computeUnits * softmax.itemsPerComputeUnit)))
    }

    func softmaxLaunch(cols: Int) -> SoftmaxLaunchParameters {
        cols <= SoftmaxTuning.longRowColumns ? softmax.shortRows : softmax.longRows
    }

    func softmaxVariant(cols: Int) -> SoftmaxVariant? {
        cols <= SoftmaxTuning.longRowColumns ? softmax.shortRowsVariant : softmax.longRowsVariant
    }

    /// Whether `section`'s values are in range (device limits aside).
    func isValid(_ section: TuningSection) -> Bool {
        switch section {
        case .softmax: return softmax.isValid
        case .topk: return topK.isValid
        case .matmul: return matmul?.isValid ?? true
        }
    }

    var isValid: Bool { TuningSection.allCases.allSatisfy(isValid) }
}

/// Why a section of a tuning file was or was not applied.
enum SectionOutcome: Equatable, Sendable {
    case applied
    /// The file has no such section (not tuned yet): the defaults, silently.
    case missing
    /// Not a JSON object of the section's shape.
    case corrupt
    /// Stored in another format version of the section.
    case otherFormat(found: Int, expected: Int)
    /// Measured with other kernel files (its source hash differs).
    case stale
    /// Values out of range.
    case invalid

    var reason: String? {
        switch self {
        case .applied: return nil
        case .missing: return nil
        case .corrupt: return "corrupt"
        case let .otherFormat(found, expected): return "format \(found), expected \(expected)"
        case .stale: return "stale: measured with other kernels"
        case .invalid: return "values out of range"
        }
    }
}

/// Whether a device's tuning file could be used at all.
enum TuningFileOutcome: Equatable, Sendable {
    /// No file: the defaults, silently.
    case absent
    /// Read; each section has its own outcome.
    case read
    /// Not JSON, or not a tuning file of the current format.
    case unreadable
    /// Measured on another device, platform or driver version.
    case otherDevice
}

/// What loading a tuning file gave: the parameters to use and why each part applied or not.
struct TuningLoad: Equatable, Sendable {
    var parameters = TuningParameters.defaults
    var file: TuningFileOutcome
    var sections: [TuningSection: SectionOutcome] = [:]
    var warnings: [String] = []
}

/// One section as stored: its format version, the hash of its kernel files and its parameters.
struct StoredSection<Parameters: Codable>: Codable {
    var format: Int
    var sourceHash: String
    var parameters: Parameters
}

/// The tuning file of one device: the device, platform and driver it was measured on,
/// and one section per op family (`TuningSection`), each decoded and checked on its own
/// so that a bad section spoils only itself.
enum TuningFile {
    static let currentFormat = 4

    static func url(device: String, platform: String, environment: [String: String]) -> URL {
        BinaryCache.root(environment).appendingPathComponent("tuning")
            .appendingPathComponent("\(StableHash.hex(platform + "\u{1F}" + device)).json")
    }

    /// The stored sections that match `device` and `sourceHashes`, the defaults for the
    /// rest, and a warning for each part of an existing file that cannot be used (a
    /// section never tuned is not a warning).
    static func load(for device: OpenCLDevice, sourceHashes: [TuningSection: String],
                     environment: [String: String]) -> TuningLoad {
        let url = url(device: device.name, platform: device.platformName, environment: environment)
        guard let data = FileManager.default.contents(atPath: url.path) else { return TuningLoad(file: .absent) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              root["format"] as? Int == currentFormat, let sections = root["sections"] as? [String: Any] else {
            return TuningLoad(file: .unreadable, warnings: [
                "ignoring unreadable tuning file \(url.path) (not a format \(currentFormat) tuning file); "
                    + "using defaults; run `kernel-bench tune` again"])
        }
        let identity = [root["device"] as? String, root["platform"] as? String, root["driverVersion"] as? String]
        guard identity == [device.name, device.platformName, device.driverVersion] else {
            return TuningLoad(file: .otherDevice, warnings: [
                "ignoring stale tuning file \(url.path) (measured on \(identity[0] ?? "?"), driver \(identity[2] ?? "?")); "
                    + "using defaults; run `kernel-bench tune` again"])
        }
        var load = TuningLoad(file: .read)
        for section in TuningSection.allCases {
            let outcome = apply(section, stored: sections[section.rawValue], hash: sourceHashes[section],
                                to: &load.parameters)
            load.sections[section] = outcome
            if outcome != .applied, let reason = outcome.reason {
                load.warnings.append("ignoring the \(section) section of tuning file \(url.path) (\(reason)); "
                    + "\(section) uses its defaults; run `kernel-bench tune --op \(section)` again")
            }
        }
        return load
    }

    /// Checks one stored section (format, then source hash, then shape, then range) and
    /// sets it in `parameters` if it passes.
    static func apply(_ section: TuningSection, stored: Any?, hash: String?,
                      to parameters: inout TuningParameters) -> SectionOutcome {
        guard let stored else { return .missing }
        guard let object = stored as? [String: Any], let format = object["format"] as? Int,
              let sourceHash = object["sourceHash"] as? String else { return .corrupt }
        guard format == section.format else { return .otherFormat(found: format, expected: section.format) }
        guard sourceHash == hash else { return .stale }
        var trial = parameters
        do {
            switch section {
            case .softmax: trial.softmax = try decode(SoftmaxTuning.self, object)
            case .topk: trial.topK = try decode(TopKTuning.self, object)
            case .matmul: trial.matmul = try decode(MatmulParameters.self, object)
            }
        } catch {
            return .corrupt
        }
        guard trial.isValid(section) else { return .invalid }
        parameters = trial
        return .applied
    }

    private static func decode<P: Codable>(_ type: P.Type, _ object: [String: Any]) throws -> P {
        try JSONDecoder().decode(StoredSection<P>.self, from: JSONSerialization.data(withJSONObject: object)).parameters
    }

    private static func encode<P: Codable>(_ parameters: P, _ section: TuningSection, hash: String) throws -> Any {
        let data = try JSONEncoder().encode(StoredSection(format: section.format, sourceHash: hash, parameters: parameters))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Writes `sections` of `parameters` (each with its current source hash) into the
    /// device's file, keeping the file's other sections as they are when it was measured
    /// on this device; a nil `matmul` removes that section. Atomic: a temporary file is
    /// written, then renamed over the old one.
    static func save(_ parameters: TuningParameters, sections: Set<TuningSection>, device: OpenCLDevice,
                     sourceHashes: [TuningSection: String], environment: [String: String]) throws -> URL {
        let url = url(device: device.name, platform: device.platformName, environment: environment)
        var stored: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: url.path),
           let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
           root["format"] as? Int == currentFormat, root["device"] as? String == device.name,
           root["platform"] as? String == device.platformName, root["driverVersion"] as? String == device.driverVersion,
           let old = root["sections"] as? [String: Any] {
            stored = old
        }
        for section in sections {
            let hash = sourceHashes[section] ?? ""
            switch section {
            case .softmax: stored[section.rawValue] = try encode(parameters.softmax, section, hash: hash)
            case .topk: stored[section.rawValue] = try encode(parameters.topK, section, hash: hash)
            case .matmul: stored[section.rawValue] = try parameters.matmul.map { try encode($0, section, hash: hash) }
            }
        }
        let root: [String: Any] = ["format": currentFormat, "device": device.name, "platform": device.platformName,
                                   "driverVersion": device.driverVersion, "sections": stored]
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "rename failed: errno \(code)"])
        }
        return url
    }
}
