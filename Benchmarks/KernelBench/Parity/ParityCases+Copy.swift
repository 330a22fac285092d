import FusedKernels

extension ParityCase {
    /// convert between every pair of floating dtypes, and copy, of a contiguous tensor and
    /// of a transposed view; values include NaN, ±inf, fp16 overflow and subnormals. Both
    /// round to nearest even, so they must agree exactly.
    static var copyCases: [ParityCase] {
        var cases: [ParityCase] = []
        for source in parityDTypes {
            for view in [false, true] {
                for target in parityDTypes { cases.append(convert(source, to: target, transposedView: view)) }
                cases.append(copy(source, transposedView: view))
            }
        }
        return cases
    }

    static let copyShape = [7, 1001]

    /// Values in [−4, 4) with specials every 97th element.
    static func copyInput(_ dtype: DType, transposedView: Bool, on engine: Engine) throws -> Tensor {
        let specials: [Float] = [.nan, .infinity, -.infinity, 70000, -1e-6, 3e-8, 0, -0.0]
        let values = parityValues(copyShape.reduce(1, *), seed: 50, range: 4).enumerated().map { index, value in
            index % 97 == 5 ? specials[(index / 97) % specials.count] : value
        }
        let x = try engine.parityTensor(values, transposedView ? copyShape.reversed() : copyShape, dtype)
        return transposedView ? try x.transposed() : x
    }

    static func convert(_ source: DType, to target: DType, transposedView: Bool) -> ParityCase {
        ParityCase("convert", "to \(target)" + (transposedView ? ", transposed view" : ""), source,
                   shape: copyShape) { engine in
            let y = try engine.convert(try copyInput(source, transposedView: transposedView, on: engine), to: target)
            return [.floats("y", try y.floats, .exact)]
        }
    }

    static func copy(_ dtype: DType, transposedView: Bool) -> ParityCase {
        ParityCase("copy", transposedView ? "transposed view" : "contiguous", dtype, shape: copyShape) { engine in
            let y = try engine.copy(try copyInput(dtype, transposedView: transposedView, on: engine))
            return [.floats("y", try y.floats, .exact)]
        }
    }
}
