import COpenCL

/// The parameter list of a `__kernel` function, so that the host binds arguments by name
/// and checks each one's kind, never by counted positions. Read from the built kernel
/// (`clGetKernelArgInfo`; programs are built with `-cl-kernel-arg-info`), or, where the
/// driver keeps no argument info (a program loaded from a binary may lack it), parsed
/// from the kernel's source with its object-like macros expanded.
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
        /// A buffer the kernel cannot write (`const` pointee or `__constant`): binding it
        /// keeps the buffer's host copy. Not compared: drivers differ in reporting it.
        var readOnly = false

        static func == (a: Parameter, b: Parameter) -> Bool { a.name == b.name && a.kind == b.kind }
    }

    /// Where a signature was read from.
    enum Origin: Equatable, Sendable {
        /// `clGetKernelArgInfo` on the built kernel.
        case builtKernel
        /// The kernel's source text (the fallback).
        case source
    }

    let entry: String
    let parameters: [Parameter]
    var origin: Origin = .source

    /// The signature the built `kernel` reports, or nil when the driver has no argument
    /// info for it (`CL_KERNEL_ARG_INFO_NOT_AVAILABLE`, or any failed query).
    static func of(builtKernel kernel: cl_kernel, entry: String) -> KernelSignature? {
        var count: cl_uint = 0
        guard clGetKernelInfo(kernel, cl_kernel_info(CL_KERNEL_NUM_ARGS), MemoryLayout<cl_uint>.size, &count, nil)
            == CL_SUCCESS else { return nil }
        var parameters: [Parameter] = []
        for index in 0 ..< count {
            var address: cl_kernel_arg_address_qualifier = 0
            guard clGetKernelArgInfo(kernel, index, cl_kernel_arg_info(CL_KERNEL_ARG_ADDRESS_QUALIFIER),
                                     MemoryLayout.size(ofValue: address), &address, nil) == CL_SUCCESS,
                  let name = argumentText(kernel, index, CL_KERNEL_ARG_NAME),
                  let type = argumentText(kernel, index, CL_KERNEL_ARG_TYPE_NAME) else { return nil }
            var qualifier: cl_kernel_arg_type_qualifier = 0
            let hasQualifier = clGetKernelArgInfo(kernel, index, cl_kernel_arg_info(CL_KERNEL_ARG_TYPE_QUALIFIER),
                                                  MemoryLayout.size(ofValue: qualifier), &qualifier, nil) == CL_SUCCESS
            let kind: Kind
            switch Int32(address) {
            case CL_KERNEL_ARG_ADDRESS_LOCAL: kind = .local
            case CL_KERNEL_ARG_ADDRESS_GLOBAL, CL_KERNEL_ARG_ADDRESS_CONSTANT: kind = .buffer
            default: kind = type.hasSuffix("*") ? .buffer : .scalar(type)
            }
            let readOnly = kind == .buffer && (Int32(address) == CL_KERNEL_ARG_ADDRESS_CONSTANT
                || (hasQualifier && qualifier & cl_kernel_arg_type_qualifier(CL_KERNEL_ARG_TYPE_CONST) != 0))
            parameters.append(Parameter(name: name, kind: kind, readOnly: readOnly))
        }
        return KernelSignature(entry: entry, parameters: parameters, origin: .builtKernel)
    }

    private static func argumentText(_ kernel: cl_kernel, _ index: cl_uint, _ info: Int32) -> String? {
        var size = 0
        guard clGetKernelArgInfo(kernel, index, cl_kernel_arg_info(info), 0, nil, &size) == CL_SUCCESS, size > 0
        else { return nil }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetKernelArgInfo(kernel, index, cl_kernel_arg_info(info), size, &bytes, nil) == CL_SUCCESS else {
            return nil
        }
        let text = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    /// Every kernel declared in `source` (comments ignored, object-like macros in the
    /// parameter lists expanded), by entry-point name.
    static func all(in source: String) -> [String: KernelSignature] {
        let text = ObjectMacros.expand(withoutComments(source))
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
        if let star = type.firstIndex(of: "*") {
            let isLocal = type.contains("__local") || type.contains("local")
            let pointee = type[..<star]
            let readOnly = !isLocal && (pointee.contains("const") || pointee.contains("__constant")
                || pointee.contains("constant"))
            return Parameter(name: String(name), kind: isLocal ? .local : .buffer, readOnly: readOnly)
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

/// Object-like `#define NAME text` macros (continuation lines joined), expanded wherever
/// their name stands as a whole word, so that a parameter list written once as a macro
/// parses like one written out. Function-like macros and conditionals are left alone:
/// kernel parameter lists use neither.
enum ObjectMacros {
    static func expand(_ text: String) -> String {
        var macros: [String: String] = [:]
        var body: [String] = []
        var lines = text.components(separatedBy: "\n")[...]
        while let line = lines.popFirst() {
            var logical = line
            while logical.hasSuffix("\\"), let next = lines.popFirst() { logical = String(logical.dropLast()) + " " + next }
            let trimmed = logical.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") {
                let words = trimmed.dropFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
                if words.count >= 2, words[0] == "define", !words[1].contains("(") {
                    macros[String(words[1])] = words.count > 2 ? String(words[2]) : ""
                }
                body.append("")
            } else {
                body.append(logical)
            }
        }
        guard !macros.isEmpty else { return body.joined(separator: "\n") }
        return body.map { substitute($0, macros, depth: 8) }.joined(separator: "\n")
    }

    private static func substitute(_ line: String, _ macros: [String: String], depth: Int) -> String {
        var out = ""
        var word = ""
        var changed = false
        func flush() {
            if let replacement = macros[word] { out += replacement; changed = true } else { out += word }
            word = ""
        }
        for character in line {
            if character.isLetter || character.isNumber || character == "_" { word.append(character) } else {
                flush()
                out.append(character)
            }
        }
        flush()
        return changed && depth > 0 ? substitute(out, macros, depth: depth - 1) : out
    }
}
