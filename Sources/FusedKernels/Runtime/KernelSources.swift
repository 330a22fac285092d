import Foundation

/// An OpenCL C file with its local `#include "…"` lines resolved, ready to build.
struct KernelSource: Sendable {
    let file: String
    let text: String
    /// Hash of the resolved text: part of every program-cache key.
    let hash: String
    /// The parameter lists of its kernels, for binding arguments by name.
    let signatures: [String: KernelSignature]

    init(file: String, text: String) {
        self.file = file
        self.text = text
        self.hash = StableHash.hex(text)
        self.signatures = KernelSignature.all(in: text)
    }
}

/// Finds `Kernels/` without ever trapping: an explicit directory, then
/// `FUSED_KERNELS_KERNELS_DIR`, then the resource bundle next to the executable,
/// then the package's source tree (the build-time location).
struct KernelSources: Sendable {
    let directory: URL

    static let bundleName = "FusedKernels_FusedKernels.resources"

    init(directory explicit: URL? = nil) throws {
        var candidates: [URL] = []
        if let explicit { candidates.append(explicit) }
        if let override = ProcessInfo.processInfo.environment["FUSED_KERNELS_KERNELS_DIR"], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        if explicit == nil {
            if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
                let folder = executable.deletingLastPathComponent()
                candidates.append(folder.appendingPathComponent(Self.bundleName).appendingPathComponent("Kernels"))
                candidates.append(folder.appendingPathComponent(Self.bundleName))
            }
            // …/Sources/FusedKernels/Runtime/KernelSources.swift → …/Kernels
            let packageRoot = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(packageRoot.appendingPathComponent("Kernels"))
        }
        let marker = "lib/common.h"
        guard let found = candidates.first(where: {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent(marker).path)
        }) else {
            throw FusedKernelsError.kernelSourcesNotFound(searched: candidates.map(\.path))
        }
        directory = found
    }

    /// Reads `file` and inlines its `#include "path"` lines, each path relative to the
    /// `Kernels/` root (as `-I Kernels` would resolve it), so the driver needs no `-I`
    /// path and the hash covers every header used; a header is inlined once.
    func load(_ file: String) throws -> KernelSource {
        var seen: Set<String> = [file]
        return KernelSource(file: file, text: try resolved(file, seen: &seen))
    }

    /// The `.cl` and `.h` files in `folder` (a path under `Kernels/`), sorted; empty
    /// when it cannot be listed.
    func files(under folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)) ?? []
        return names.filter { $0.hasSuffix(".cl") || $0.hasSuffix(".h") }.sorted().map { "\(folder)/\($0)" }
    }

    private func resolved(_ file: String, seen: inout Set<String>) throws -> String {
        let url = directory.appendingPathComponent(file)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw FusedKernelsError.kernelSourcesNotFound(searched: [url.path])
        }
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#include \""), let name = trimmed.split(separator: "\"").dropFirst().first {
                let header = String(name)
                if seen.insert(header).inserted { lines.append(try resolved(header, seen: &seen)) }
            } else {
                lines.append(String(line))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// A hash that is stable across processes (Swift's `Hasher` is seeded per process).
enum StableHash {
    /// 128 bits as hex: two FNV-1a 64 passes with different offsets.
    static func hex(_ text: String) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x84222325_cbf29ce4
        for byte in text.utf8 {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = b &+ (b >> 29)
        }
        return String(a, radix: 16) + String(b, radix: 16)
    }
}
