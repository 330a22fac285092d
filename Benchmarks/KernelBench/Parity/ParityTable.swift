import Foundation

/// `parity`'s human output: a table of cases (rows) × devices (columns) holding each
/// case's max error as a ratio to its tolerance and pass/FAIL, then each op's worst ratio
/// and pass count per device, then every failure spelled out.
struct ParityTable {
    var records: [ParityRecord] = []
    /// Run time per device, in the order the devices ran.
    var seconds: [String: Double] = [:]

    var devices: [String] {
        records.reduce(into: [String]()) { if !$0.contains($1.device) { $0.append($1.device) } }
    }

    func lines() -> [String] {
        let devices = self.devices
        let columns = devices.map(shortDeviceLabel)
        var rows: [String: [ParityRecord]] = [:]
        var order: [String] = []
        for record in records {
            let key = "\(record.op)\u{0}\(record.variant)\u{0}\(record.dtype)\u{0}\(record.shapeLabel)"
            if rows[key] == nil { order.append(key) }
            rows[key, default: []].append(record)
        }
        let caseRows = order.map { key -> [String] in
            let cells = rows[key]!
            let first = cells[0]
            let tolerance = cells.lazy.compactMap(\.tolerance).first.map(toleranceLabel) ?? "exact"
            return [first.op, first.variant, first.dtype, first.shapeLabel, tolerance]
                + devices.map { device in cells.first { $0.device == device }.map(cellLabel) ?? "—" }
        }
        var output = aligned(["op", "options", "dtype", "shape", "tolerance"] + columns, caseRows)
        output.append("")
        output += aligned(["op", "cases"] + columns, opSummary(devices))
        output.append("")
        for device in devices {
            let mine = records.filter { $0.device == device }
            let (failed, skipped) = (mine.filter(\.failed).count, mine.filter { $0.skipped != nil }.count)
            let time = seconds[device].map { String(format: ", %.1f s", $0) } ?? ""
            output.append("\(device) (preset \(mine.first?.preset ?? "auto")): \(mine.count - failed - skipped) passed, "
                + "\(failed) failed, \(skipped) skipped\(time)")
        }
        let skips = Dictionary(grouping: records.filter { $0.skipped != nil }, by: \.device)
        for device in devices where skips[device] != nil {
            let cases = skips[device]!.map { "\($0.op) \($0.variant) \($0.dtype) \($0.shapeLabel)" }
            output.append("skipped on \(shortDeviceLabel(device)) (\(skips[device]![0].skipped!)): "
                + cases.joined(separator: "; "))
        }
        for record in records where record.failed { output.append("FAIL " + failureLabel(record)) }
        return output
    }

    /// Per op and device: the worst ratio and how many cases passed.
    private func opSummary(_ devices: [String]) -> [[String]] {
        let ops = records.reduce(into: [String]()) { if !$0.contains($1.op) { $0.append($1.op) } }
        return ops.map { op in
            let mine = records.filter { $0.op == op }
            let perDevice = devices.map { device -> String in
                let cases = mine.filter { $0.device == device }
                let checked = cases.filter { $0.pass != nil }
                let worst = checked.compactMap(\.maxError).max()
                let passed = checked.filter { $0.pass == true }.count
                let worstLabel = checked.contains { $0.error != nil } ? "error" : worst.map(ratioLabel) ?? "—"
                return "\(worstLabel) \(passed)/\(checked.count)"
                    + (cases.count > checked.count ? " (+\(cases.count - checked.count) skipped)" : "")
            }
            return [op, String(mine.count / max(devices.count, 1))] + perDevice
        }
    }
}

/// `opencl:N` and the first word of the device's name.
func shortDeviceLabel(_ device: String) -> String {
    let words = device.split(whereSeparator: { $0 == " " || $0 == "-" })
    return words.count > 1 ? "\(words[0]) \(words[1])" : device
}

func toleranceLabel(_ tolerance: Tolerance) -> String {
    tolerance == .exact ? "exact" : String(format: "atol %.1e rtol %.1e", tolerance.atol, tolerance.rtol)
}

func ratioLabel(_ ratio: Double) -> String { ratio.isFinite ? String(format: "%.3f", ratio) : "inf" }

/// A case's cell: its ratio and pass or FAIL, `skipped`, or `error`.
func cellLabel(_ record: ParityRecord) -> String {
    if record.skipped != nil { return "skipped" }
    if record.error != nil { return "error FAIL" }
    return ratioLabel(record.maxError ?? .nan) + (record.pass == true ? " ok" : " FAIL")
}

/// One failure in full: device, case, worst output, its error and tolerance, or the error.
func failureLabel(_ record: ParityRecord) -> String {
    let name = "\(record.device): \(record.op) [\(record.variant)] \(record.dtype) \(record.shapeLabel)"
    if let error = record.error { return "\(name): \(error)" }
    return "\(name): output \(record.output ?? "?") max error \(ratioLabel(record.maxError ?? .nan))× tolerance ("
        + (record.tolerance.map(toleranceLabel) ?? "exact indices") + ")"
}

/// Columns padded to their widest cell, left-aligned, two spaces apart.
private func aligned(_ header: [String], _ rows: [[String]]) -> [String] {
    let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0 }
    return ([header] + rows).map { cells in
        zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
}
