import Foundation
import Testing
@testable import FusedKernels

/// Tensors on every backend: views are strides over the same storage, ops take any view
/// (rows by offset and stride, other layouts through a contiguous copy), outputs can be
/// views, and host arrays round-trip in every dtype.
@Suite struct TensorTests {
    @Test(arguments: TestBackend.all)
    func viewsAreStridesOverTheSameStorage(backend: TestBackend) throws {
        let engine = try backend.engine()
        let values = (0 ..< 24).map(Float.init)
        let x = try engine.tensor(values, shape: [2, 3, 4])
        #expect(x.isContiguous && x.strides == [12, 4, 1])
        let slice = try x.slice(axis: 1, 1 ..< 3)                       // [2, 2, 4]
        #expect(slice.offset == 4 && !slice.isContiguous)
        #expect(try slice.array(of: Float.self) == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        let transposed = try x.transposed()                             // [2, 4, 3]
        #expect(try transposed.array(of: Float.self).prefix(6) == [0, 4, 8, 1, 5, 9])
        let row = try engine.tensor([Float](repeating: 7, count: 4), shape: [4])
        let broadcast = try row.broadcast(to: [3, 4])
        #expect(broadcast.strides == [0, 1])
        #expect(try broadcast.array(of: Float.self) == [Float](repeating: 7, count: 12))
        #expect(try x.reshaped([6, 4]).array(of: Float.self) == values)
        #expect(throws: FusedKernelsError.self) { _ = try slice.reshaped([16]) }
        #expect(throws: FusedKernelsError.self) { _ = try row.broadcast(to: [3, 5]) }
        #expect(throws: FusedKernelsError.self) { _ = try x.slice(axis: 3, 0 ..< 1) }
        // Every dtype round-trips; floating tensors read as any floating type.
        #expect(try engine.tensor([Int32](arrayLiteral: 1, -2, 3), shape: [3]).array(of: Int32.self) == [1, -2, 3])
        #expect(try engine.tensor([true, false, true], shape: [3]).array(of: Bool.self) == [true, false, true])
        #expect(try engine.tensor([Float16](arrayLiteral: 0.5, 2), shape: [2]).array(of: Float.self) == [0.5, 2])
        #expect(throws: FusedKernelsError.dtypeMismatch(argument: "array(of:)", expected: .int32, actual: .float32)) {
            _ = try engine.tensor([Int32](arrayLiteral: 1), shape: [1]).array(of: Float.self)
        }
    }

    /// Softmax over the last axis of a 4-D tensor with a keep-mask broadcast over heads
    /// only ([B, 1, L, L]: not one row stride, so copied) and an additive mask over keys.
    @Test(arguments: TestBackend.all)
    func fourDimensionalSoftmaxWithBroadcastMasks(backend: TestBackend) throws {
        let engine = try backend.engine()
        let (b, h, l) = (2, 3, 17)
        let x = randomValues(b * h * l * l, seed: 41)
        let keep = (0 ..< b * l * l).map { i in (i % l) <= (i / l) % l || i % 5 == 0 }
        let additive = randomValues(l, seed: 42, in: -1 ... 1)
        let options = SoftmaxOptions(scale: 0.7, additiveMask: try engine.tensor(additive, shape: [l]),
                                     keepMask: try engine.tensor(keep, shape: [b, 1, l, l]))
        let y = try engine.softmax(try engine.tensor(x, shape: [b, h, l, l]), kind: .logSoftmax, options: options)
        #expect(y.shape == [b, h, l, l])
        // The same masks written out per row, for the naive reference.
        let fullKeep = (0 ..< b * h * l * l).map { i in keep[(i / (h * l * l)) * l * l + i % (l * l)] }
        let fullAdditive = (0 ..< b * h * l * l).map { additive[$0 % l] }
        let shape = Shape(rows: b * h * l, cols: l)
        expectClose(try y.toArray(), NaiveSoftmax.forward(x, shape: shape, kind: .logSoftmax,
                                                          options: HostOptions(scale: 0.7, additiveMask: fullAdditive,
                                                                               keepMask: fullKeep)),
                    rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) 4-D log-softmax")
    }

    /// A transposed input (its last axis not contiguous) and an output that is a slice of
    /// a larger tensor: the result matches, and nothing outside the slice is written.
    @Test(arguments: TestBackend.all)
    func viewsInAndOut(backend: TestBackend) throws {
        let engine = try backend.engine()
        let stored = randomValues(40 * 30, seed: 43)                     // [40, 30], used as [30, 40]ᵀ
        let x = try engine.tensor(stored, shape: [40, 30]).transposed()  // [30, 40], column stride 30
        let target = try engine.tensor([Float](repeating: poison, count: 35 * 50), shape: [35, 50])
        let y = try target.slice(axis: 0, 2 ..< 32).slice(axis: 1, 5 ..< 45)  // [30, 40], row stride 50
        try engine.softmax(x, into: y)
        let transposedValues: [Float] = (0 ..< 30 * 40).map { (index: Int) -> Float in stored[(index % 40) * 30 + index / 40] }
        let expected = NaiveSoftmax.forward(transposedValues, shape: Shape(rows: 30, cols: 40), kind: .softmax)
        expectClose(try y.toArray(), expected, rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance,
                    "\(backend.label) transposed in, slice out")
        let all = try target.toArray()
        let inside = { (index: Int) -> Bool in (2 ..< 32).contains(index / 50) && (5 ..< 45).contains(index % 50) }
        let untouched = (0 ..< 35 * 50).filter { !inside($0) }
        #expect(untouched.allSatisfy { all[$0].bitPattern == poison.bitPattern }, "elements outside the view written")
        // Copies of views: into a new tensor, and into a contiguous slice with an offset.
        #expect(try engine.copy(x).array(of: Float.self) == transposedValues)
        let rows = try engine.tensor([Float](repeating: poison, count: 32 * 40), shape: [32, 40])
        try engine.copy(x, into: try rows.slice(axis: 0, 2 ..< 32))
        let copied = try rows.toArray()
        #expect(Array(copied[80...]) == transposedValues)
        #expect(copied[..<80].allSatisfy { $0.bitPattern == poison.bitPattern })
    }
}
