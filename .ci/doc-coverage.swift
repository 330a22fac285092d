// Fails unless every public symbol declared in Sources/FusedKernels has a doc comment of
// its own. Reads the symbol graphs that `swift package generate-documentation` extracted
// (public symbols only) and checks each symbol with a source location: a declaration in
// our files. Symbols without one are the compiler's (`init(rawValue:)`, `init(from:)`,
// `!=`, `hash(into:)`, …) and cannot carry a comment; a comment inherited from a protocol
// of another module (`description` gets CustomStringConvertible's) does not count.
//
//   swift .ci/doc-coverage.swift FusedKernels.symbols.json FusedKernels@Swift.symbols.json
import Foundation

let module = "FusedKernels"
let files = CommandLine.arguments.dropFirst()
guard !files.isEmpty else {
    FileHandle.standardError.write(Data("doc-coverage: no symbol graph given\n".utf8))
    exit(2)
}

var checked = 0
var missing: [(file: String, line: Int, message: String)] = []
for file in files {
    guard let data = FileManager.default.contents(atPath: file),
          let graph = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          let symbols = graph["symbols"] as? [[String: Any]] else {
        FileHandle.standardError.write(Data("doc-coverage: \(file) is not a symbol graph\n".utf8))
        exit(2)
    }
    for symbol in symbols {
        guard let location = symbol["location"] as? [String: Any], let uri = location["uri"] as? String,
              uri.contains("/Sources/\(module)/") else { continue }
        checked += 1
        let comment = symbol["docComment"] as? [String: Any]
        let lines = (comment?["lines"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        let ownModule = (comment?["module"] as? String).map { $0 == module } ?? true
        if ownModule, lines.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
        let path = (symbol["pathComponents"] as? [String] ?? []).joined(separator: ".")
        let kind = (symbol["kind"] as? [String: Any])?["displayName"] as? String ?? "symbol"
        let line = ((location["position"] as? [String: Any])?["line"] as? Int).map { $0 + 1 } ?? 0
        let source = uri.components(separatedBy: "/Sources/\(module)/").last ?? uri
        missing.append(("Sources/\(module)/\(source)", line, "\(kind) \(path) has no doc comment"))
    }
}

print("doc-coverage: \(checked - missing.count) of \(checked) public symbols declared in Sources/\(module) are documented")
guard checked > 0 else {
    print("doc-coverage: error: no public symbol found in the symbol graphs")
    exit(1)
}
if !missing.isEmpty {
    for (file, line, message) in missing.sorted(by: { ($0.file, $0.line) < ($1.file, $1.line) }) {
        print("\(file):\(line): error: \(message)")
    }
    exit(1)
}
