import ArgumentParser
import Foundation

/// How records are printed: a human table (the default), or one schema as JSON lines,
/// CSV or a Markdown table.
enum OutputFormat: String, EnumerableFlag {
    case table, json, csv, markdown

    static func help(for value: OutputFormat) -> ArgumentHelp? {
        switch value {
        case .table: return "A table for people (the default)."
        case .json: return "One JSON object per line (the README's schema)."
        case .csv: return "Comma-separated values with a header row (the same fields)."
        case .markdown: return "A Markdown table (the same fields)."
        }
    }
}

/// The output flags every measuring subcommand takes.
struct OutputOptions: ParsableArguments {
    @Flag var format: OutputFormat = .table
}

/// Prints records as they come, in one format. Tables are printed per group (a family's
/// run) so that their columns line up; JSON lines and CSV rows stream.
final class RecordOutput {
    let format: OutputFormat
    private var wroteHeader = false

    init(_ format: OutputFormat) { self.format = format }

    /// The columns of the table, CSV and Markdown forms, in order (JSON uses the same names).
    static let columns = ["family", "op", "variant", "dtype", "shape", "device", "device_type", "median_ms", "p20_ms",
                          "p80_ms", "min_ms", "first_call_ms", "unit", "work", "throughput", "roofline",
                          "roofline_source", "fraction_of_roofline", "max_error", "error_metric", "ran_on", "kernels",
                          "details"]

    /// Prints `records` and flushes, so that a run stopped by a time limit (run-gpu-check.sh)
    /// keeps every record it finished.
    func emit(_ records: [BenchRecord]) {
        render(records).forEach { print($0) }
        fflush(nil)
    }

    /// The lines `emit` prints for `records`, after whatever this output printed before.
    func render(_ records: [BenchRecord]) -> [String] {
        guard !records.isEmpty else { return [] }
        defer { wroteHeader = true }
        switch format {
        case .json: return records.map(jsonLine)
        case .csv:
            return (wroteHeader ? [] : [Self.columns.joined(separator: ",")])
                + records.map { $0.fields.map(csvQuoted).joined(separator: ",") }
        case .markdown:
            let header = ["| " + Self.columns.joined(separator: " | ") + " |",
                          "|" + String(repeating: "---|", count: Self.columns.count)]
            return (wroteHeader ? [] : header) + records.map { record in
                "| " + record.fields.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
            }
        case .table: return (wroteHeader ? [""] : []) + table(records)
        }
    }

    private func table(_ records: [BenchRecord]) -> [String] {
        let header = ["op", "variant", "dtype", "shape", "device", "median ms", "p20–p80 ms", "throughput",
                      "roofline", "max error", "notes", "ran on"]
        let rows = records.map(\.tableRow)
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        // Numbers right-aligned, words left-aligned.
        let numeric: Set<Int> = [5, 6, 7, 8, 9]
        let line = { (cells: [String]) in
            zip(cells, widths).enumerated().map { column, cell in
                let padding = String(repeating: " ", count: cell.1 - cell.0.count)
                return numeric.contains(column) ? padding + cell.0 : cell.0 + padding
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return [line(header)] + rows.map(line)
    }
}

extension BenchRecord {
    var shapeLabel: String { shape.map(String.init).joined(separator: "x") }

    /// `cpu`, or `opencl:N` and the first word of the device's name.
    var shortDevice: String {
        let words = device.split(whereSeparator: { $0 == " " || $0 == "-" })
        return words.count > 1 && words[0].hasPrefix("opencl:") ? "\(words[0]) \(words[1])" : device
    }

    var detailsLabel: String {
        details.keys.sorted().map { "\($0)=\(details[$0]!)" }.joined(separator: " ")
    }

    /// The values of `RecordOutput.columns`, as text.
    var fields: [String] {
        [family, op, variant, dtype, shapeLabel, device, deviceType, number(medianMs), number(p20Ms), number(p80Ms),
         number(minMs), number(firstCallMs), unit, number(work), number(throughput), number(roofline),
         rooflineSource, number(fractionOfRoofline), maxError.map(number) ?? "", errorMetric, ranOn,
         kernels.joined(separator: "; "), detailsLabel]
    }

    var tableRow: [String] {
        [op, variant, dtype, shapeLabel, shortDevice, medianMs.isNaN ? "—" : String(format: "%.3f", medianMs),
         p20Ms.isNaN ? "—" : String(format: "%.3f–%.3f", p20Ms, p80Ms), String(format: "%.1f %@", throughput, unit),
         String(format: "%.0f%% of %.1f", 100 * fractionOfRoofline, roofline),
         maxError.map { String(format: "%.1e", $0) } ?? "—", notes, ranOn]
    }

    /// The details a reader of the table needs most, short.
    var notes: String {
        let highlights: [(key: String, label: (Detail) -> String)] = [
            ("speedup", { "\(fixed($0))x vs unfused" }), ("fraction_of_blas", { "\(fixed($0))x BLAS" }),
            ("fraction_of_matmul", { "\(fixed($0))x matmul" }), ("memory_ratio", { "memory \(fixed($0))x I/O" }),
            ("extra_bytes", { "scratch " + ($0.number.map { byteLabel(Int($0)) } ?? "\($0)") }), ("launch_latency_us", { $0.number.map { String(format: "launch %.1f µs", $0) } ?? "no launches" }),
        ]
        return highlights.compactMap { key, label in details[key].map(label) }.joined(separator: ", ")
    }
}

/// A number detail with two decimals.
private func fixed(_ detail: Detail) -> String { detail.number.map { String(format: "%.2f", $0) } ?? "\(detail)" }

/// Shortest round-trip text of a number (as JSON writes it).
private func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "\(value)".lowercased() }

private func csvQuoted(_ field: String) -> String {
    guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// One JSON object on one line, keys sorted; non-finite numbers as "inf", "-inf", "nan".
func jsonLine<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                  nan: "nan")
    guard let data = try? encoder.encode(value) else { return "{\"error\": \"encoding failed\"}" }
    return String(decoding: data, as: UTF8.self)
}

func printJSON<T: Encodable>(_ value: T) { print(jsonLine(value)) }
