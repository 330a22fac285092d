/// The softmax family on the CPU path: the multithreaded SIMD algorithms of `CPU/`,
/// on dense fp32 rows (`HostFloats.swift` converts other dtypes and views).
extension Engine {
    /// `kind`'s forward of `call` (the statistics have their own CPU run:
    /// `SoftmaxRowsCPU.statistics`).
    func cpuSoftmaxForward(_ call: SoftmaxCall, kind: SoftmaxKind, into y: Tensor) throws {
        let (shape, options) = (call.shape, call.options)
        try call.x.withHostFloats { x in
            try withHostMasks(call) { masks in
                try y.fillFloats { y in
                    if kind == .logSumExp {
                        SoftmaxRowsCPU.forward(x, y, shape: shape, kind: .logSumExp, scale: options.scale, masks: masks)
                    } else {
                        SoftmaxVariantsCPU.forward(x, y, shape: shape, kind: kind, scale: options.scale, masks: masks,
                                                   variant: options.variant)
                    }
                }
            }
        }
    }

    func cpuSoftmaxBackward(kind: SoftmaxKind, y: Tensor, dy: Tensor, dx: Tensor, scale: Float) throws {
        let shape = Shape(rows: y.count / y.shape[y.rank - 1], cols: y.shape[y.rank - 1])
        try y.withHostFloats { y in
            try dy.withHostFloats { dy in
                try dx.fillFloats { dx in SoftmaxRowsCPU.backward(y, dy, dx, shape: shape, kind: kind, scale: scale) }
            }
        }
    }

    /// The masks of `call` as host rows: one row (stride 0) when a mask is the same for
    /// every row, else every row.
    func withHostMasks<R>(_ call: SoftmaxCall, _ body: (SoftmaxRowsCPU.Masks) throws -> R) throws -> R {
        let additive = try call.additive.map { try hostMaskRows($0, Float.self) } ?? (values: [], stride: 0)
        let keep = try call.keep.map { try hostMaskRows($0, Bool.self) } ?? (values: [], stride: 0)
        return try additive.values.withUnsafeBufferPointer { add in
            try keep.values.withUnsafeBufferPointer { kept in
                try body(.init(additive: call.additive == nil ? nil : add.baseAddress, additiveStride: additive.stride,
                               keep: call.keep == nil ? nil : kept.baseAddress, keepStride: keep.stride))
            }
        }
    }

    private func hostMaskRows<T: TensorElement>(_ mask: Tensor, _ type: T.Type) throws -> (values: [T], stride: Int) {
        guard let layout = mask.rowLayout, layout.rows > 1, layout.rowStride == 0 else {
            return (try mask.array(of: T.self), mask.shape[mask.rank - 1])
        }
        var firstRow = mask
        for axis in 0 ..< mask.rank - 1 { firstRow = try firstRow.slice(axis: axis, 0 ..< 1) }
        return (try firstRow.array(of: T.self), 0)
    }
}
