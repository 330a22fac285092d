/// New views of a tensor's storage: nothing is copied, and writes through a view are
/// seen by every other view of the same storage.
extension Tensor {
    /// Indices `range` of `axis` (negative axes count from the end).
    ///
    /// - Throws: ``FusedKernelsError/invalidArgument(argument:reason:)`` for an axis the
    ///   tensor does not have or a range that is empty or not inside the axis.
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let axis = try checkedAxis(axis, "axis")
        guard range.lowerBound >= 0, range.upperBound <= shape[axis], !range.isEmpty else {
            throw FusedKernelsError.invalidArgument(
                argument: "range", reason: "\(range) is not a non-empty range of axis \(axis) (extent \(shape[axis]))")
        }
        var newShape = shape
        newShape[axis] = range.count
        return view(newShape, strides, offset + Int64(range.lowerBound) * strides[axis])
    }

    /// The view with two axes swapped (by default the last two: a matrix transpose).
    /// Negative axes count from the end.
    ///
    /// - Throws: ``FusedKernelsError/invalidArgument(argument:reason:)`` for an axis the
    ///   tensor does not have.
    public func transposed(_ first: Int = -2, _ second: Int = -1) throws -> Tensor {
        let (a, b) = (try checkedAxis(first, "first"), try checkedAxis(second, "second"))
        var (newShape, newStrides) = (shape, strides)
        newShape.swapAt(a, b)
        newStrides.swapAt(a, b)
        return view(newShape, newStrides, offset)
    }

    /// The view broadcast to `target` (NumPy's rules: axes aligned from the end, an
    /// extent 1 or a missing leading axis repeats with stride 0).
    ///
    /// A view that repeats elements can be an op's input, not its output.
    ///
    /// - Throws: ``FusedKernelsError/invalidShape(argument:shape:reason:)`` for a target
    ///   no tensor can have, ``FusedKernelsError/shapeMismatch(argument:expected:actual:)``
    ///   when it has fewer axes than the tensor, and
    ///   ``FusedKernelsError/invalidArgument(argument:reason:)`` when an extent is neither
    ///   the target's nor 1.
    public func broadcast(to target: [Int]) throws -> Tensor {
        try Tensor.validate(target, "shape")
        guard target.count >= rank else {
            throw FusedKernelsError.shapeMismatch(argument: "shape", expected: shape, actual: target)
        }
        let lead = target.count - rank
        var newStrides = [Int64](repeating: 0, count: target.count)
        for axis in 0 ..< rank {
            let (extent, wanted) = (shape[axis], target[lead + axis])
            guard extent == wanted || extent == 1 else {
                throw FusedKernelsError.invalidArgument(
                    argument: "shape", reason: "\(shape) does not broadcast to \(target)")
            }
            newStrides[lead + axis] = extent == wanted ? strides[axis] : 0
        }
        return view(target, newStrides, offset)
    }

    /// The same elements under another shape; only for contiguous tensors.
    ///
    /// - Throws: ``FusedKernelsError/invalidShape(argument:shape:reason:)`` for a shape no
    ///   tensor can have, ``FusedKernelsError/sizeMismatch(argument:expected:actual:)`` when
    ///   its element count differs, ``FusedKernelsError/invalidArgument(argument:reason:)``
    ///   when the tensor is not contiguous (``Tensor/isContiguous``; ``Engine/copy(_:preset:)``
    ///   makes a contiguous copy).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor.validate(newShape, "shape")
        guard newShape.reduce(1, *) == count else {
            throw FusedKernelsError.sizeMismatch(argument: "shape", expected: count, actual: newShape.reduce(1, *))
        }
        guard isContiguous else {
            throw FusedKernelsError.invalidArgument(argument: "self", reason: "only a contiguous tensor can be reshaped")
        }
        return view(newShape, Tensor.contiguousStrides(newShape), offset)
    }

    private func view(_ shape: [Int], _ strides: [Int64], _ offset: Int64) -> Tensor {
        Tensor(shape: shape, strides: strides, offset: offset, dtype: dtype, storage: storage)
    }

    private func checkedAxis(_ axis: Int, _ argument: String) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard (0 ..< rank).contains(resolved) else {
            throw FusedKernelsError.invalidArgument(argument: argument, reason: "axis \(axis) of a rank-\(rank) tensor")
        }
        return resolved
    }
}

/// A tensor seen as `rows` rows of `cols` contiguous elements over its last axis, row r
/// starting at `offset + r·rowStride` (0 when one row is broadcast): what the softmax
/// family's kernels take.
struct RowLayout: Equatable {
    let rows: Int
    let cols: Int
    let offset: Int
    let rowStride: Int
}

extension Tensor {
    /// The leading axes flattened into rows, when their strides allow it and the last
    /// axis is contiguous; nil otherwise (the op then works on a contiguous copy).
    var rowLayout: RowLayout? {
        let cols = shape[rank - 1]
        guard strides[rank - 1] == 1 || cols == 1 else { return nil }
        var rowStride: Int64?
        var expected: Int64?
        for axis in (0 ..< rank - 1).reversed() where shape[axis] > 1 {
            if let expected, strides[axis] != expected { return nil }
            if rowStride == nil { rowStride = strides[axis] }
            expected = strides[axis] * Int64(shape[axis])
        }
        return RowLayout(rows: count / cols, cols: cols, offset: Int(offset), rowStride: Int(rowStride ?? Int64(cols)))
    }

    /// Whether writes through this view land on distinct elements (no stride-0 axis and
    /// no overlapping rows): required of every output.
    var isWritable: Bool {
        guard let layout = rowLayout else { return false }
        return layout.rows == 1 || layout.rowStride >= layout.cols
    }
}
