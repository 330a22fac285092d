/// Matmul on OpenCL (`MatmulKernels`): the preset's tile parameters, and the execution of
/// a `MatmulPlan` with its arguments bound by name.
extension Engine {
    /// The tile parameters `preset` stands for on this device: the tuning file's for the
    /// device's own kind, else the documented presets.
    func matmulParameters(_ preset: KernelPreset, device: OpenCLDevice) -> MatmulParameters {
        switch resolved(preset) {
        case .cpu: return .cpu
        case .gpu: return .gpu
        case .auto: return tuning.matmul ?? (device.isCPU ? .cpu : .gpu)
        }
    }

    /// Launches `call` into the device tensor `c` (of A's dtype or fp32, unchecked: ops
    /// validate first). `aMask` lets the kernel skip blocks of A known to be zero.
    func encodeMatmul(_ call: MatmulCall, into c: Tensor, preset: KernelPreset, aMask: MatmulBlockMask? = nil,
                      on context: OpenCLContext) throws {
        let plan = MatmulPlan(call, outputDType: c.dtype, parameters: matmulParameters(preset, device: context.device))
        try prepare(plan, on: context)
        let (aBuffer, bBuffer, cBuffer) = (try call.a.tensor.deviceBuffer("a"), try call.b.tensor.deviceBuffer("b"),
                                           try c.deviceBuffer("c"))
        let output = try OutputMatrix(c, m: call.m)
        try launch(plan.launches[0], [
            "a": .buffer(aBuffer), "a_offset": .int64(call.a.tensor.offset), "a_batch_stride": .int64(call.a.batchStride),
            "a_row_stride": .int64(call.a.rowStride), "a_col_stride": .int64(call.a.colStride),
            "b": .buffer(bBuffer), "b_offset": .int64(call.b.tensor.offset), "b_batch_stride": .int64(call.b.batchStride),
            "b_row_stride": .int64(call.b.rowStride), "b_col_stride": .int64(call.b.colStride),
            "c": .buffer(cBuffer), "c_offset": .int64(c.offset), "c_batch_stride": .int64(output.batchStride),
            "c_row_stride": .int64(output.rowStride),
            "m": .int(call.m), "n": .int(call.n), "k": .int(call.k), "alpha": .float(call.alpha), "beta": .float(call.beta),
            "a_mask": .buffer(aMask?.buffer), "a_mask_offset": .int64(aMask?.offset ?? 0),
            "a_mask_row_stride": .int64(aMask?.rowStride ?? 0), "a_mask_col_stride": .int64(aMask?.colStride ?? 0),
            "a_mask_rows": .int(aMask?.rows ?? 0), "a_mask_cols": .int(aMask?.cols ?? 0),
        ], on: context)
    }
}

/// Where C's rows are: an output is checked writable, so its rows (batch and m
/// flattened) are evenly strided with unit column stride.
struct OutputMatrix {
    let rowStride: Int64
    let batchStride: Int64

    init(_ c: Tensor, m: Int) throws {
        guard let layout = c.rowLayout else {
            throw FusedKernelsError.invalidArgument(argument: "c", reason: "rows are not evenly strided")
        }
        rowStride = Int64(layout.rowStride)
        batchStride = Int64(layout.rowStride * m)
    }
}
