import Foundation

/// Program binaries on disk, so a second process does not recompile.
/// Location: `FUSED_KERNELS_CACHE_DIR`, else `$XDG_CACHE_HOME/fused-kernels`, else
/// `~/.cache/fused-kernels`. Writes go to a unique temp file that is then renamed,
/// so two processes writing the same entry never leave a torn file. Every failure
/// here is silent: the cache is an optimisation, never a source of errors.
struct BinaryCache: Sendable {
    let directory: URL

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        directory = BinaryCache.root(environment).appendingPathComponent("programs")
    }

    static func root(_ environment: [String: String]) -> URL {
        if let dir = environment["FUSED_KERNELS_CACHE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("fused-kernels")
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache").appendingPathComponent("fused-kernels")
    }

    func load(_ key: String) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path(key).path), !data.isEmpty else { return nil }
        return [UInt8](data)
    }

    func store(_ binary: [UInt8], key: String) {
        let target = path(key)
        let temp = directory.appendingPathComponent(".\(key).\(getpid()).\(UUID().uuidString).tmp")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(binary).write(to: temp)
            guard rename(temp.path, target.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(at: temp)
        }
    }

    private func path(_ key: String) -> URL { directory.appendingPathComponent("\(key).bin") }
}
