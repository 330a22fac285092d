import Foundation
import FusedKernels

/// The machine a report was made on, as Markdown list items: CPU model, the vector ISA
/// extensions that decide what bounds a kernel, cores, caches, memory, OS, OpenCL devices.
struct MachineDescription: Equatable {
    var cpu: String
    var isa: String
    var cores: String
    var caches: String
    var memory: String
    var os: String
    /// One line per OpenCL device: `opencl:N name [platform], driver …, OpenCL …`.
    var openCLDevices: [String]

    var markdown: String {
        let devices = openCLDevices.isEmpty ? ["none found"] : openCLDevices
        return """
            - CPU: \(cpu); \(cores)
            - Vector ISA: \(isa)
            - Caches: \(caches)
            - Memory: \(memory)
            - OS: \(os)
            - OpenCL devices:\(devices.map { "\n  - \($0)" }.joined())
            """
    }

    /// Extensions worth naming, as /proc/cpuinfo spells them and as people do.
    private static let extensions = [("sse4_2", "SSE4.2"), ("avx", "AVX"), ("avx2", "AVX2"), ("fma", "FMA"),
                                     ("f16c", "F16C"), ("avx512f", "AVX-512F"), ("avx512bw", "AVX-512BW"),
                                     ("avx512vl", "AVX-512VL"), ("avx512_bf16", "AVX-512 BF16"),
                                     ("avx512_fp16", "AVX-512 FP16"), ("amx_tile", "AMX")]

    /// This machine, from /proc, /sys and the OpenCL platforms (Linux; "unknown" elsewhere).
    static func current() -> MachineDescription {
        let cpuinfo = read("/proc/cpuinfo")
        let processors = cpuinfo.components(separatedBy: "\n\n").filter { $0.contains("processor") }
            .map(fields)
        let first = processors.first ?? [:]
        var cpu = first["model name"] ?? "unknown"
        if let family = first["cpu family"], let model = first["model"] { cpu += " (family \(family), model \(model))" }
        let flags = Set((first["flags"] ?? "").split(separator: " ").map(String.init))
        let present = extensions.filter { flags.contains($0.0) }.map(\.1)
        let absent = extensions.filter { !flags.contains($0.0) }.map(\.1)
        let isa = flags.isEmpty ? "unknown"
            : present.joined(separator: ", ") + (absent.isEmpty ? "" : "; not: " + absent.joined(separator: ", "))
        let cores = Set(processors.compactMap { processor in
            processor["core id"].map { "\(processor["physical id"] ?? "0")/\($0)" }
        }).count
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory
        return MachineDescription(
            cpu: cpu, isa: isa,
            cores: "\(cores == 0 ? threads : cores) cores, \(threads) threads",
            caches: caches(), memory: String(format: "%.1f GiB", Double(memory) / Double(1 << 30)),
            os: operatingSystem(), openCLDevices: openCLDevices())
    }

    /// `key: value` lines of one /proc/cpuinfo block.
    private static func fields(_ block: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in block.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            fields[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// cpu0's caches: `L1d 32 KiB, L1i 32 KiB, L2 1 MiB, L3 32 MiB (shared by CPUs 0-1)`.
    private static func caches() -> String {
        let root = "/sys/devices/system/cpu/cpu0/cache"
        let indices = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { $0.hasPrefix("index") }.sorted()
        let caches = indices.map { index -> String in
            let value = { (name: String) in
                read("\(root)/\(index)/\(name)").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let kind = ["Data": "d", "Instruction": "i"][value("type")] ?? ""
            let shared = value("shared_cpu_list")
            let isShared = shared.contains { $0 == "-" || $0 == "," }
            return "L\(value("level"))\(kind) \(size(value("size")))" + (isShared ? " (shared by CPUs \(shared))" : "")
        }
        return caches.isEmpty ? "unknown" : caches.joined(separator: ", ")
    }

    /// sysfs's `32K`, `1024K`, `32768K` as 32 KiB, 1 MiB, 32 MiB.
    private static func size(_ text: String) -> String {
        guard text.hasSuffix("K"), let kib = Int(text.dropLast()) else { return text }
        return kib >= 1024 && kib % 1024 == 0 ? "\(kib / 1024) MiB" : "\(kib) KiB"
    }

    private static func operatingSystem() -> String {
        let release = read("/etc/os-release").split(separator: "\n")
            .first { $0.hasPrefix("PRETTY_NAME=") }
            .map { $0.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        var system = utsname()
        uname(&system)
        let kernel = withUnsafeBytes(of: &system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return [release ?? ProcessInfo.processInfo.operatingSystemVersionString, "kernel \(kernel)"]
            .joined(separator: ", ")
    }

    private static func openCLDevices() -> [String] {
        ((try? Engine.devices()) ?? []).map { device in
            "\(device), driver \(device.driverVersion), \(device.deviceVersion), \(device.computeUnits) compute units"
        }
    }

    private static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}
