import Foundation
import Testing
@testable import FusedKernels

/// Fused softmax + top-k and plain top-k on every backend, against a naive sort.
@Suite struct TopKTests {
    /// (values, indices) by sorting each row: value descending, index ascending.
    static func naive(_ x: [Float], shape: Shape, k: Int, scale: Float, softmax: Bool) -> ([Double], [Int32]) {
        var values: [Double] = [], indices: [Int32] = []
        for row in 0 ..< shape.rows {
            let z = x[row * shape.cols ..< (row + 1) * shape.cols].map { softmax ? scale * $0 : $0 }
            if z.contains(where: { $0.isNaN || (softmax && $0 == .infinity) }) {
                values += [Double](repeating: .nan, count: k)
                indices += [Int32](repeating: -1, count: k)
                continue
            }
            let order = z.indices.sorted { z[$0] != z[$1] ? z[$0] > z[$1] : $0 < $1 }.prefix(k)
            let m = Double(z.max()!)
            let d = z.reduce(0.0) { $0 + exp(Double($1) - m) }
            indices += order.map { Int32($0) }
            values += order.map { i in
                !softmax ? Double(z[i]) : (m == -.infinity ? 0 : exp(Double(z[i]) - m) / d)
            }
        }
        return (values, indices)
    }

    static let cases: [(rows: Int, cols: Int, k: Int)] = [
        (1, 1, 1), (3, 17, 1), (3, 17, 7), (3, 17, 17), (5, 1000, 8), (4, 1000, 64), (2, 4097, 256), (33, 300, 8),
    ]

    /// One backend × (rows, cols, k) case.
    struct Run: CustomTestStringConvertible, Sendable {
        let backend: TestBackend
        let rows: Int, cols: Int, k: Int
        var testDescription: String { "\(backend.label) [\(rows), \(cols)] k=\(k)" }
    }

    static let runs = TestBackend.withGPUPreset.flatMap { backend in
        cases.filter { $0.rows * $0.cols <= backend.elementBudget }.map {
            Run(backend: backend, rows: $0.rows, cols: $0.cols, k: $0.k)
        }
    }

    @Test(arguments: runs)
    func randomRows(run: Run) throws {
        try Self.checkRandomRows(try run.backend.engine(), run.backend, cases: [(run.rows, run.cols, run.k)])
    }

    @Test(arguments: TestBackend.withGPUPreset)
    func specialRows(backend: TestBackend) throws {
        try Self.checkSpecialRows(try backend.engine(), backend)
    }

    /// Fused softmax + top-k and plain top-k with rows cut into column shards (here from 16 columns on,
    /// so that small rows are split) and the shards' candidates merged.
    @Test(arguments: TestBackend.withGPUPreset.filter { $0.selector != "cpu" })
    func rowsSplitIntoShards(backend: TestBackend) throws {
        let engine = try backend.engine()
        var tuning = engine.tuning
        tuning.softmax.minimumShardColumns = 16
        try engine.useTuning(tuning)
        #expect(tuning.shardLayout(Shape(rows: 2, cols: 4097), computeUnits: 1)?.shards == 2)
        try Self.checkRandomRows(engine, backend)
        try Self.checkSpecialRows(engine, backend)
        // A NaN in the second shard only: the whole row is NaN / −1 for plain top-k too.
        let nanRow = (0 ..< 40).map { $0 == 35 ? Float.nan : Float($0) }
        let plain = try engine.topK(nanRow, shape: Shape(rows: 1, cols: 40), k: 3)
        #expect(plain.values.allSatisfy(\.isNaN) && plain.indices == [-1, -1, -1], "\(backend.label) \(plain)")
    }

    static func checkRandomRows(_ engine: Engine, _ backend: TestBackend,
                                cases: [(rows: Int, cols: Int, k: Int)] = cases) throws {
        for (rows, cols, k) in cases where rows * cols <= backend.elementBudget {
            let shape = Shape(rows: rows, cols: cols)
            let x = randomValues(shape.count, seed: UInt64(cols * 7 + k))
            for softmax in [true, false] {
                let result = softmax ? try engine.softmaxTopK(x, shape: shape, k: k, scale: 0.75)
                                     : try engine.topK(x, shape: shape, k: k)
                let (values, indices) = Self.naive(x, shape: shape, k: k, scale: 0.75, softmax: softmax)
                let label = "\(backend.label) \(softmax ? "softmaxTopK" : "topK") \(shape) k=\(k)"
                #expect(result.indices == indices, "\(label) indices")
                expectClose(result.values, values, rtol: fp32RelativeTolerance, atol: 0, label)
            }
        }
    }

    static func checkSpecialRows(_ engine: Engine, _ backend: TestBackend) throws {
        let cols = 40, k = 5
        let rows: [[Float]] = [
            [Float](repeating: 2, count: cols),                            // all tied: indices 0..<k
            [Float](repeating: -.infinity, count: cols),                   // all −inf: probabilities 0
            (0 ..< cols).map { $0 == 9 ? .nan : Float($0) },               // NaN row
            (0 ..< cols).map { $0 == 30 ? .infinity : 0 },                 // +inf row
            (0 ..< cols).map { $0 % 3 == 0 ? 1e30 : -1e30 },               // huge values, ties among 1e30
            (0 ..< cols).map { Float(($0 * 7) % 11) },                     // repeated values
        ]
        let x = rows.flatMap { $0 }
        let shape = Shape(rows: rows.count, cols: cols)
        let result = try engine.softmaxTopK(x, shape: shape, k: k)
        let (values, indices) = Self.naive(x, shape: shape, k: k, scale: 1, softmax: true)
        #expect(result.indices == indices, "\(backend.label) indices \(result.indices) vs \(indices)")
        expectClose(result.values, values, rtol: fp32RelativeTolerance, atol: 0, "\(backend.label) special rows")
        #expect(Array(result.indices[0 ..< k]) == [0, 1, 2, 3, 4])
        #expect(result.values[k ..< 2 * k].allSatisfy { $0 == 0 })
        #expect(result.values[2 * k ..< 3 * k].allSatisfy { $0.isNaN } && result.indices[2 * k] == -1)
    }

    @Test(arguments: TestBackend.withGPUPreset)
    func storageTypesAndTensors(backend: TestBackend) throws {
        let engine = try backend.engine()
        let shape = Shape(rows: 6, cols: 257)
        let x = randomValues(shape.count, seed: 99).map(Float16.init)
        let half = try engine.softmaxTopK(x, shape: shape, k: 8)
        let (values, indices) = Self.naive(x.map(\.float), shape: shape, k: 8, scale: 1, softmax: true)
        #expect(half.indices == indices)
        expectClose(half.values.map(\.float), values, rtol: 1.5e-3, atol: 1e-4, "\(backend.label) fp16")
        let tensor = try engine.tensor(x, shape: shape)
        let fromTensor = try engine.softmaxTopK(tensor, k: 8)
        #expect(fromTensor.values.dtype == .float16 && fromTensor.values.shape == [6, 8])
        #expect(try fromTensor.indices.array(of: Int32.self) == indices)
        expectClose(try fromTensor.values.toArray(), values, rtol: 1.5e-3, atol: 1e-4, "\(backend.label) fp16 tensor")
    }

    @Test func rejectsBadK() throws {
        let engine = try Engine(device: "cpu")
        let x = [Float](repeating: 0, count: 10)
        let shape = Shape(rows: 2, cols: 5)
        #expect(throws: FusedKernelsError.invalidArgument(argument: "k", reason: "must be in 1...256, got 0")) {
            _ = try engine.softmaxTopK(x, shape: shape, k: 0)
        }
        #expect(throws: FusedKernelsError.invalidArgument(argument: "k", reason: "6 exceeds the row length 5")) {
            _ = try engine.topK(x, shape: shape, k: 6)
        }
    }
}
