/// An operand as the row-wise kernels see it: a buffer, and where its rows are in it.
struct KernelRows {
    let buffer: CLBuffer
    let layout: RowLayout

    /// The arguments `name`, `name_offset` and `name_row_stride` of a row-wise kernel;
    /// an absent operand passes NULL.
    static func arguments(_ name: String, _ rows: KernelRows?) -> KernelArguments {
        [name: .buffer(rows?.buffer), name + "_offset": .long(rows?.layout.offset ?? 0),
         name + "_row_stride": .long(rows?.layout.rowStride ?? 0)]
    }
}

extension Engine {
    /// `tensor` as kernel rows: its own storage when its strides flatten into rows, else
    /// a contiguous copy made on the device (`copy_strided`).
    func kernelRows(_ tensor: Tensor, on context: OpenCLContext) throws -> KernelRows {
        if let layout = tensor.rowLayout, case .device(let buffer) = tensor.storage.location {
            return KernelRows(buffer: buffer, layout: layout)
        }
        let copy = try contiguousCopy(tensor, on: context)
        return try outputRows(copy)
    }

    /// An output tensor's rows (outputs are checked writable, so they have a row layout).
    func outputRows(_ tensor: Tensor) throws -> KernelRows {
        guard let layout = tensor.rowLayout, case .device(let buffer) = tensor.storage.location else {
            throw FusedKernelsError.invalidArgument(argument: "output", reason: "not a device tensor with a row layout")
        }
        return KernelRows(buffer: buffer, layout: layout)
    }
}

extension Tensor {
    /// The device buffer behind the view (every operand of an OpenCL op has one: tensors
    /// are checked to be the engine's before anything runs); `argument` names it otherwise.
    func deviceBuffer(_ argument: String = "tensor") throws -> CLBuffer {
        guard case .device(let buffer) = storage.location else {
            throw FusedKernelsError.invalidArgument(argument: argument, reason: "not a device tensor")
        }
        return buffer
    }
}
