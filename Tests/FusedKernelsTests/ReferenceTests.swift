import Foundation
import Testing
@testable import FusedKernels

/// The CPU SIMD path is the reference: it must itself agree with the naive Double
/// implementation, more tightly than the kernels are required to.
@Suite struct ReferenceTests {
    @Test func vectorExpMatchesDoubleExp() {
        let xs = randomValues(100_000, seed: 1, in: -87 ... 88)
        var worst = 0.0
        for start in stride(from: 0, to: xs.count, by: 16) {
            var v = Float16x(repeating: 0)
            for lane in 0 ..< 16 { v[lane] = xs[start + lane] }
            let e = vexp(v)
            for lane in 0 ..< 16 {
                let exact = Foundation.exp(Double(v[lane]))
                worst = max(worst, abs(Double(e[lane]) - exact) / exact)
            }
        }
        #expect(worst <= 2.5e-7, "max relative error \(worst)")
    }

    @Test func vectorExpSpecialValues() {
        #expect(sexp(-.infinity) == 0)
        #expect(sexp(-100) == 0)
        #expect(sexp(0) == 1)
        #expect(sexp(100) == .infinity)
        #expect(sexp(.nan).isNaN)
    }

    static let shapes = [(1, 1), (1, 17), (3, 16), (7, 129), (2, 4097), (5, 1000), (65, 33)]

    @Test(arguments: SoftmaxKind.allCases)
    func forwardMatchesNaiveDouble(kind: SoftmaxKind) throws {
        for (seed, (rows, cols)) in Self.shapes.enumerated() {
            let shape = Shape(rows: rows, cols: cols)
            let x = randomValues(shape.count, seed: UInt64(seed + 10))
            let options = HostOptions(scale: 0.7, additiveMask: randomValues(cols, seed: 99, in: -2 ... 2))
            var y = [Float](repeating: poison, count: kind == .logSumExp ? rows : shape.count)
            x.withUnsafeBufferPointer { x in
                options.additiveMask!.withUnsafeBufferPointer { add in
                    SoftmaxRowsCPU.forward(x.baseAddress!, &y, shape: shape, kind: kind, scale: options.scale,
                                             masks: .init(additive: add.baseAddress, additiveStride: 0,
                                                          keep: nil, keepStride: 0))
                }
            }
            expectClose(y, NaiveSoftmax.forward(x, shape: shape, kind: kind, options: options),
                        rtol: 1e-6, atol: 5e-7, "\(kind) \(shape)")
        }
    }

    @Test(arguments: [SoftmaxKind.softmax, .logSoftmax])
    func backwardMatchesNaiveDouble(kind: SoftmaxKind) throws {
        for (seed, (rows, cols)) in Self.shapes.enumerated() {
            let shape = Shape(rows: rows, cols: cols)
            let x = randomValues(shape.count, seed: UInt64(seed + 20))
            let dy = randomValues(shape.count, seed: UInt64(seed + 30), in: -1 ... 1)
            let y = NaiveSoftmax.forward(x, shape: shape, kind: kind).map(Float.init)
            var dx = [Float](repeating: poison, count: shape.count)
            SoftmaxRowsCPU.backward(y, dy, &dx, shape: shape, kind: kind, scale: 1.5)
            expectClose(dx, NaiveSoftmax.backward(y: y, dy: dy, shape: shape, kind: kind, scale: 1.5),
                        rtol: 1e-6, atol: 1e-6, "\(kind) backward \(shape)")
        }
    }
}
