import Foundation

/// The NumPy element types `kernel-bench run` reads and writes, by the `descr` NumPy
/// writes for them on a little-endian machine.
enum NPYDType: String, CaseIterable, Sendable {
    case float32 = "<f4", float16 = "<f2", int32 = "<i4", int64 = "<i8", bool = "|b1"

    /// A header's `descr`: `<` (little-endian) or `=` (native, little on every machine
    /// Swift runs this on) for the multi-byte types, `|` (no byte order) for bool.
    init?(descr: String) {
        let spelling = descr.hasPrefix("=") ? "<" + descr.dropFirst() : descr
        guard let dtype = NPYDType(rawValue: spelling) else { return nil }
        self = dtype
    }

    var itemSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        case .int64: return 8
        case .bool: return 1
        }
    }
}

/// Why bytes are not a .npy file `run` accepts: one line, without the file's name (the
/// caller names it).
struct NPYError: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An array as a .npy file holds it: shape, element type and the elements' little-endian
/// bytes in C (row-major) order.
struct NPYArray: Equatable, Sendable {
    let dtype: NPYDType
    let shape: [Int]
    let data: Data

    var count: Int { shape.reduce(1, *) }

    /// The elements as `T` (whose size must be the dtype's); copied, so unaligned data is fine.
    func elements<T: BitwiseCopyable>(_ type: T.Type) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = data.copyBytes(to: UnsafeMutableRawBufferPointer(buffer)) / MemoryLayout<T>.stride
        }
    }

    init(dtype: NPYDType, shape: [Int], data: Data) {
        (self.dtype, self.shape, self.data) = (dtype, shape, data)
    }

    init<T: BitwiseCopyable>(_ values: [T], dtype: NPYDType, shape: [Int]) {
        self.init(dtype: dtype, shape: shape, data: values.withUnsafeBytes { Data($0) })
    }
}

/// The .npy format (numpy.lib.format): the magic string, a version, a header length and a
/// Python dict literal {'descr', 'fortran_order', 'shape'}, then the raw elements.
/// Versions 1.0 and 2.0 are read (3.0 too: 2.0 with a UTF-8 header); 1.0 is written, 2.0
/// only for a header longer than 65535 bytes. Fortran order is accepted only where it is
/// the same bytes as C order (at most one axis longer than 1).
enum NPY {
    static let magic = Data([0x93] + Array("NUMPY".utf8))
    /// NumPy pads the header so the data starts on a multiple of this.
    static let alignment = 64

    static func decode(_ bytes: Data) throws -> NPYArray {
        let bytes = Data(bytes)  // indices from 0
        guard bytes.prefix(magic.count) == magic else { throw NPYError("not a .npy file: bad magic string") }
        guard bytes.count >= 8 else { throw NPYError("truncated header: the file ends in its version") }
        let (major, minor) = (bytes[6], bytes[7])
        let lengthBytes: Int
        switch (major, minor) {
        case (1, 0): lengthBytes = 2
        case (2, 0), (3, 0): lengthBytes = 4
        default: throw NPYError("unsupported .npy format version \(major).\(minor) (1.0, 2.0 and 3.0 are read)")
        }
        guard bytes.count >= 8 + lengthBytes else { throw NPYError("truncated header: the file ends in its length field") }
        let headerLength = bytes[8 ..< 8 + lengthBytes].reversed().reduce(0) { $0 << 8 | Int($1) }
        let dataStart = 8 + lengthBytes + headerLength
        guard bytes.count >= dataStart else {
            let present = bytes.count - 8 - lengthBytes
            throw NPYError("truncated header: \(headerLength) header bytes announced, \(present) present")
        }
        let header = try NPYHeader(parsing: Array(bytes[8 + lengthBytes ..< dataStart]))
        let expected = try byteCount(header.shape, header.dtype)
        let present = bytes.count - dataStart
        guard present == expected else {
            let problem = present < expected ? "data truncated" : "trailing data"
            throw NPYError("\(problem): shape \(header.shape) of \(header.dtype.rawValue) needs \(expected) bytes, "
                + "the file holds \(present)")
        }
        return NPYArray(dtype: header.dtype, shape: header.shape, data: bytes.suffix(from: dataStart))
    }

    static func encode(_ array: NPYArray) -> Data {
        let shape = array.shape.count == 1 ? "(\(array.shape[0]),)"
            : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(array.dtype.rawValue)', 'fortran_order': False, 'shape': \(shape), }"
        // The padding and newline add at most `alignment` bytes to the dict.
        let version: UInt8 = dict.utf8.count + alignment > Int(UInt16.max) ? 2 : 1
        let preamble = version == 1 ? 10 : 12
        let padding = (alignment - (preamble + dict.utf8.count + 1) % alignment) % alignment
        let header = Array((dict + String(repeating: " ", count: padding) + "\n").utf8)
        var file = magic + [version, 0]
        let length = header.count
        file.append(contentsOf: (0 ..< preamble - 8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) })
        file.append(contentsOf: header)
        file.append(array.data)
        return file
    }

    /// count · itemSize, formed without overflow.
    private static func byteCount(_ shape: [Int], _ dtype: NPYDType) throws -> Int {
        try shape.reduce(dtype.itemSize) { product, extent in
            let (next, overflow) = product.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw NPYError("shape \(shape) is too large") }
            return next
        }
    }
}

/// A header's dict, parsed as strictly as NumPy reads it: exactly the keys 'descr',
/// 'fortran_order' and 'shape' (any order, any whitespace, an optional trailing comma),
/// string keys in single or double quotes, a shape tuple of non-negative integers
/// (`(3,)` for one axis); after the closing brace only spaces and newlines.
struct NPYHeader {
    let dtype: NPYDType
    let shape: [Int]

    private enum Value {
        case string(String), bool(Bool), tuple([Int])
    }

    init(parsing header: [UInt8]) throws {
        var parser = Parser(bytes: header)
        var entries: [String: Value] = [:]
        try parser.expect("{")
        while !parser.consume("}") {
            let key = try parser.string()
            guard entries[key] == nil else { throw NPYError("bad header: key '\(key)' repeated") }
            try parser.expect(":")
            entries[key] = try parser.value(of: key)
            if !parser.consume(",") {
                try parser.expect("}")
                break
            }
        }
        try parser.expectEnd()
        let keys = ["descr", "fortran_order", "shape"]
        if let missing = keys.first(where: { entries[$0] == nil }) { throw NPYError("bad header: no '\(missing)' key") }
        if let extra = entries.keys.sorted().first(where: { !keys.contains($0) }) {
            throw NPYError("bad header: unexpected key '\(extra)'")
        }
        guard case let .string(descr)? = entries["descr"] else { throw NPYError("bad header: 'descr' is not a string") }
        guard case let .bool(fortranOrder)? = entries["fortran_order"] else {
            throw NPYError("bad header: 'fortran_order' is not True or False")
        }
        guard case let .tuple(shape)? = entries["shape"] else { throw NPYError("bad header: 'shape' is not a tuple") }
        guard let dtype = NPYDType(descr: descr) else {
            let detail = descr.hasPrefix(">") ? " (big-endian)" : ""
            throw NPYError("unsupported dtype '\(descr)'\(detail); expected one of "
                + NPYDType.allCases.map(\.rawValue).joined(separator: " "))
        }
        guard !fortranOrder || shape.filter({ $0 > 1 }).count <= 1 else {
            throw NPYError("Fortran (column-major) order is not supported; save np.ascontiguousarray(a)")
        }
        (self.dtype, self.shape) = (dtype, shape)
    }

    /// A cursor over the header's bytes (ASCII structure; a v3 header's UTF-8 can only
    /// appear inside strings).
    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        private mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func consume(_ token: Character) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == token.asciiValue else { return false }
            index += 1
            return true
        }

        mutating func expect(_ token: Character) throws {
            guard consume(token) else { throw NPYError("bad header: expected '\(token)' at byte \(index)") }
        }

        mutating func expectEnd() throws {
            skipSpace()
            guard index == bytes.count else {
                throw NPYError("bad header: unexpected text after the dict at byte \(index)")
            }
        }

        static let quotes = [UInt8(ascii: "'"), UInt8(ascii: "\"")]

        /// A quoted string without escapes (NumPy's keys and dtype strings have none).
        mutating func string() throws -> String {
            skipSpace()
            guard let quote = bytes[index...].first, Self.quotes.contains(quote) else {
                throw NPYError("bad header: expected a quoted string at byte \(index)")
            }
            guard let end = bytes[(index + 1)...].firstIndex(of: quote),
                  !bytes[(index + 1) ..< end].contains(UInt8(ascii: "\\")) else {
                throw NPYError("bad header: unterminated or escaped string at byte \(index)")
            }
            defer { index = end + 1 }
            return String(decoding: bytes[(index + 1) ..< end], as: UTF8.self)
        }

        /// A string, True, False or a tuple; a list only as a structured array's 'descr'.
        mutating func value(of key: String) throws -> Value {
            skipSpace()
            for (word, flag) in [("True", true), ("False", false)] where bytes[index...].starts(with: word.utf8) {
                index += word.utf8.count
                return .bool(flag)
            }
            if consume("(") { return .tuple(try tupleTail()) }
            let next = bytes[index...].first
            if key == "descr", next == UInt8(ascii: "[") {
                throw NPYError("unsupported dtype: structured arrays are not supported")
            }
            guard let next, Self.quotes.contains(next) else {
                throw NPYError("bad header: the value of '\(key)' is not a string, True, False or a tuple (byte \(index))")
            }
            return .string(try string())
        }

        /// Integers up to ')': `()`, `(3,)`, `(2, 3)` or `(2, 3,)`; `(3)` is not a tuple.
        private mutating func tupleTail() throws -> [Int] {
            var items: [Int] = []
            while !consume(")") {
                items.append(try integer())
                if consume(",") { continue }
                guard items.count > 1 else { throw NPYError("bad header: a one-axis shape is written (n,)") }
                try expect(")")
                break
            }
            return items
        }

        private mutating func integer() throws -> Int {
            skipSpace()
            let start = index
            while index < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start, let value = Int(String(decoding: bytes[start ..< index], as: UTF8.self)) else {
                throw NPYError("bad header: expected a non-negative integer in 'shape' at byte \(start)")
            }
            return value
        }
    }
}
