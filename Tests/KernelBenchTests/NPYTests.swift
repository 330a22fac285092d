import Foundation
import Testing
@testable import KernelBench

/// The .npy codec on its own: what it writes, and the header spellings it accepts and rejects.
@Suite struct NPYTests {
    static let floats = Data((0 ..< 24).map(UInt8.init))

    @Test(arguments: NPYDType.allCases)
    func writesVersion1AlignedAndReadsItBack(_ dtype: NPYDType) throws {
        let array = NPYArray(dtype: dtype, shape: [2, 3], data: Data(repeating: 1, count: 6 * dtype.itemSize))
        let file = NPY.encode(array)
        #expect(file.prefix(8) == NPY.magic + [1, 0])
        let headerEnd = 10 + Int(file[8]) + Int(file[9]) << 8
        #expect(headerEnd % 64 == 0)
        #expect(String(decoding: file[10 ..< headerEnd], as: UTF8.self).hasPrefix(
            "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(file[headerEnd - 1] == UInt8(ascii: "\n"))
        #expect(try NPY.decode(file) == array)
    }

    @Test func writesOneAxisAsATupleOfOne() throws {
        let file = NPY.encode(NPYArray([Float(1), 2, 3], dtype: .float32, shape: [3]))
        #expect(String(decoding: file, as: UTF8.self).contains("'shape': (3,), }"))
    }

    @Test(arguments: [
        // Key order, quotes, whitespace, no trailing comma, version 2.0 and 3.0, '=' for native order.
        ("{\"shape\": (2, 3), \"fortran_order\": False, \"descr\": \"<f4\"}", UInt8(1)),
        ("{ 'descr' : '=f4' ,'fortran_order':False,'shape':(2,3,) }", UInt8(2)),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", UInt8(3)),
        // Fortran order where it is C order's bytes: one axis longer than 1.
        ("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6), }", UInt8(1)),
    ])
    func acceptsWhatNumPyMayWrite(_ dict: String, _ version: UInt8) throws {
        let array = try NPY.decode(MalformedFileTests.file(dict, Self.floats, version: version))
        #expect(array.dtype == .float32)
        #expect(array.count == 6 && array.data == Self.floats)
    }

    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 'x'}", "unexpected key 'extra'"),
        ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", "repeated"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "(n,)"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", "'fortran_order'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "non-negative integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", "'shape'"),
        ("{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3)}", "unsupported dtype '|f4'"),
        ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", "structured"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", "after the dict"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "expected '}'"),
    ])
    func rejectsHeaders(_ dict: String, _ problem: String) {
        let error = #expect(throws: NPYError.self) { try NPY.decode(MalformedFileTests.file(dict, Self.floats)) }
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
    }

    @Test func rejectsUnknownVersions() {
        var file = NPY.encode(NPYArray([Float(1)], dtype: .float32, shape: [1]))
        file[6] = 4
        #expect(throws: NPYError("unsupported .npy format version 4.0 (1.0, 2.0 and 3.0 are read)")) { try NPY.decode(file) }
    }
}
