/// The parameter list of a `__kernel` function, read from its source so that the host
/// binds arguments by name and checks each one's kind, never by counted positions.
struct KernelSignature: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// A `__global` or `__constant` pointer: a buffer (or NULL).
        case buffer
        /// A `__local` pointer: its size in bytes is the argument.
        case local
        /// A value of an OpenCL C scalar type (`int`, `long`, `float`, `uint`, …).
        case scalar(String)
    }

    struct Parameter: Equatable, Sendable {
        let name: String
        let kind: Kind
    }

    let entry: String
    let parameters: [Parameter]

    /// Every kernel declared in `source` (comments ignored), by entry-point name.
    static func all(in source: String) -> [String: KernelSignature] {
        let text = withoutComments(source)
        var result: [String: KernelSignature] = [:]
        var rest = Substring(text)
        while let marker = rest.range(of: "__kernel") {
            rest = rest[marker.upperBound...]
            // `__kernel [attributes] void name(parameters)`: attributes hold parentheses too.
            guard let void = rest.range(of: "void"), let open = rest[void.upperBound...].firstIndex(of: "(")
            else { break }
            let name = rest[void.upperBound ..< open].trimmingCharacters(in: .whitespacesAndNewlines)
            guard let close = matchingParenthesis(rest, open) else { break }
            let list = rest[rest.index(after: open) ..< close]
            result[name] = KernelSignature(entry: name, parameters: splitTopLevel(list).compactMap(parameter))
            rest = rest[close...]
        }
        return result
    }

    private static func parameter(_ text: Substring) -> Parameter? {
        let tokens = text.split { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "*") }
            .flatMap { token -> [Substring] in
                // `float *x` and `float* x` alike: a star is a token of its own.
                token.split(separator: "*", omittingEmptySubsequences: false).enumerated().flatMap { index, part in
                    (index > 0 ? ["*"] : []) + (part.isEmpty ? [] : [part])
                }
            }
        guard let name = tokens.last, name != "*" else { return nil }
        let type = tokens.dropLast()
        if type.contains("*") {
            let isLocal = type.contains("__local") || type.contains("local")
            return Parameter(name: String(name), kind: isLocal ? .local : .buffer)
        }
        let scalar = type.filter { $0 != "const" && $0 != "__private" && $0 != "private" }
        return Parameter(name: String(name), kind: .scalar(scalar.joined(separator: " ")))
    }

    private static func matchingParenthesis(_ text: Substring, _ open: Substring.Index) -> Substring.Index? {
        var depth = 0
        for index in text[open...].indices {
            switch text[index] {
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
        }
        return nil
    }

    private static func splitTopLevel(_ list: Substring) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = list.startIndex
        for index in list.indices {
            switch list[index] {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                parts.append(list[start ..< index])
                start = list.index(after: index)
            default: break
            }
        }
        let last = list[start...]
        if !last.allSatisfy(\.isWhitespace) { parts.append(last) }
        return parts
    }

    private static func withoutComments(_ source: String) -> String {
        var out = ""
        out.reserveCapacity(source.utf8.count)
        var index = source.startIndex
        while index < source.endIndex {
            let rest = source[index...]
            if rest.hasPrefix("//") {
                index = rest.firstIndex(of: "\n") ?? source.endIndex
            } else if rest.hasPrefix("/*") {
                index = rest.range(of: "*/").map(\.upperBound) ?? source.endIndex
                out.append(" ")
            } else {
                out.append(source[index])
                index = source.index(after: index)
            }
        }
        return out
    }
}
