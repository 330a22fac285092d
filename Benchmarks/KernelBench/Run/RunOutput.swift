import Foundation
import FusedKernels

/// An output file a run was asked for, and its flag.
struct OutputFile: Hashable {
    let path: String
    let flag: String
}

/// What an op produced for an output file: a tensor, or per-row values returned to
/// the host (normalizer and cross-entropy statistics).
enum OutputValue {
    case tensor(Tensor)
    case floats([Float], shape: [Int])

    /// Written in the NumPy type of its elements: fp32 `<f4`, fp16 `<f2`, bf16 widened
    /// exactly to `<f4` (NumPy has no bfloat16), int32 `<i4`, bool `|b1`.
    func npyArray() throws -> NPYArray {
        switch self {
        case let .floats(values, shape):
            return NPYArray(values, dtype: .float32, shape: shape)
        case let .tensor(tensor):
            switch tensor.dtype {
            case .float32, .bfloat16:
                return NPYArray(try tensor.array(of: Float.self), dtype: .float32, shape: tensor.shape)
            case .float16: return NPYArray(try tensor.array(of: Float16.self), dtype: .float16, shape: tensor.shape)
            case .int32: return NPYArray(try tensor.array(of: Int32.self), dtype: .int32, shape: tensor.shape)
            case .bool: return NPYArray(try tensor.array(of: Bool.self), dtype: .bool, shape: tensor.shape)
            }
        }
    }
}

/// Writes a run's outputs so that they appear only complete: each to a temporary name in
/// its own directory (so the rename cannot cross file systems), then renamed over its
/// path. If anything fails, every temporary file and every output already renamed is
/// removed: a failed run leaves no output behind.
enum AtomicOutputs {
    static func write(_ files: [(file: OutputFile, bytes: Data)]) throws {
        var temporaries: [String] = []
        var renamed: [String] = []
        do {
            for (file, bytes) in files {
                let temporary = temporaryPath(for: file.path)
                temporaries.append(temporary)
                do { try bytes.write(to: URL(fileURLWithPath: temporary)) } catch {
                    let reason = (error as NSError).localizedDescription
                    throw RunError(file: file.path, flag: file.flag, "cannot write: \(reason)")
                }
            }
            for ((file, _), temporary) in zip(files, temporaries) {
                guard rename(temporary, file.path) == 0 else {
                    let reason = String(cString: strerror(errno))
                    throw RunError(file: file.path, flag: file.flag, "cannot rename \(temporary) to it: \(reason)")
                }
                renamed.append(file.path)
            }
        } catch {
            for path in temporaries + renamed { unlink(path) }
            throw error
        }
    }

    /// A hidden name beside `path`, unique to this process and call.
    private static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = ".\(url.lastPathComponent).\(getpid()).\(UUID().uuidString.prefix(8)).tmp"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Throws unless `file` can be created: its directory exists and it is not a directory.
    static func check(_ file: OutputFile) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw RunError(file: file.path, flag: file.flag, "is a directory")
        }
        let directory = URL(fileURLWithPath: file.path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunError(file: file.path, flag: file.flag, "directory \(directory) does not exist")
        }
    }
}
