// TEMPORARY, deleted when the lead's output refactor (BenchRecord, `runSuite`) is merged
// from main: the parts of its record schema the report reads, so this branch builds.
import Foundation

struct BenchRecord: Codable, Equatable {
    var family: String
    var op: String
    var variant: String
    var dtype: String
    var shape: [Int]
    var device: String
    var deviceType: String
    var medianMs: Double
    var p20Ms: Double
    var p80Ms: Double
    var minMs: Double
    var firstCallMs: Double
    var unit: String
    var work: Double
    var throughput: Double
    var roofline: Double
    var rooflineSource: String
    var fractionOfRoofline: Double
    var maxError: Double?
    var errorMetric: String
    var ranOn: String
    var kernels: [String]
    var details: [String: Detail]

    enum CodingKeys: String, CodingKey {
        case family, op, variant, dtype, shape, device, deviceType = "device_type", medianMs = "median_ms",
             p20Ms = "p20_ms", p80Ms = "p80_ms", minMs = "min_ms", firstCallMs = "first_call_ms", unit, work,
             throughput, roofline, rooflineSource = "roofline_source", fractionOfRoofline = "fraction_of_roofline",
             maxError = "max_error", errorMetric = "error_metric", ranOn = "ran_on", kernels, details
    }
}

enum Detail: Codable, Equatable {
    case number(Double)
    case flag(Bool)
    case text(String)

    init(from decoder: Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let flag = try? value.decode(Bool.self) { self = .flag(flag) }
        else if let number = try? value.decode(Double.self) { self = .number(number) }
        else { self = .text(try value.decode(String.self)) }
    }

    func encode(to encoder: Encoder) throws {
        var value = encoder.singleValueContainer()
        switch self {
        case let .number(number): try value.encode(number)
        case let .flag(flag): try value.encode(flag)
        case let .text(text): try value.encode(text)
        }
    }
}

extension BenchRecord {
    var shapeLabel: String { shape.map(String.init).joined(separator: "x") }

    var shortDevice: String {
        let words = device.split(whereSeparator: { $0 == " " || $0 == "-" })
        return words.count > 1 && words[0].hasPrefix("opencl:") ? "\(words[0]) \(words[1])" : device
    }
}

struct SuiteNotMergedYet: Error, CustomStringConvertible {
    var description: String { "the in-process suite is not on this branch yet: pass --input records.jsonl" }
}

func runSuite(devices: String?, families: [String]?) throws -> [BenchRecord] { throw SuiteNotMergedYet() }
