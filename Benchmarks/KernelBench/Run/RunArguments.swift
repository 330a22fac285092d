import ArgumentParser
import FusedKernels

// The library's option enums, spelled as their raw values on the command line.
extension SoftmaxKind: ExpressibleByArgument {}
extension SoftmaxVariant: ExpressibleByArgument {}
extension KernelPreset: ExpressibleByArgument {}
extension CrossEntropyOptions.Reduction: ExpressibleByArgument {}

/// The mask files of the softmax family and of attention.
struct MaskFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Added to the logits: <f4, broadcasting (NumPy rules) to them (x's shape; attention's "
                                   + "[B, Hq, Lq, Lk]).", valueName: "file"))
    var additiveMask: String?
    @Option(help: ArgumentHelp("Keeps a logit where true, −∞ where false: |b1, broadcasting like --additive-mask.",
                               valueName: "file"))
    var keepMask: String?
    @Option(help: ArgumentHelp("Either mask, by the file's dtype: |b1 as --keep-mask, else as --additive-mask.",
                               valueName: "file"))
    var mask: String?

    func read(_ session: RunSession) throws -> (additive: InputFile?, keep: InputFile?) {
        var additive = try session.read(additiveMask, flag: "additive-mask", argument: "additiveMask", as: .float32)
        var keep = try session.read(keepMask, flag: "keep-mask", argument: "keepMask", as: .bool)
        guard let mask else { return (additive, keep) }
        let array = try InputFile.load(mask, flag: "mask")
        let isKeep = array.dtype == .bool
        guard (isKeep ? keep : additive) == nil else {
            throw RunError(file: mask, flag: "mask", isKeep ? "a second keep mask (--keep-mask is given)"
                : "a second additive mask (--additive-mask is given)")
        }
        let file = try session.input(array, path: mask, flag: "mask", argument: isKeep ? "keepMask" : "additiveMask",
                                     as: isKeep ? .bool : .float32)
        if isKeep { keep = file } else { additive = file }
        return (additive, keep)
    }
}

/// `SoftmaxOptions` as flags: the scale, the masks and the forward algorithm.
struct SoftmaxFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "z = scale·x + additive mask (finite).") var scale: Float = 1
    @OptionGroup var masks: MaskFlags
    @Option(help: "Forward algorithm (OpenCL and CPU path).") var variant: SoftmaxVariant = .auto

    /// The options, given the masks `read` returned, as tensors on `engine`.
    func options(_ masks: (additive: InputFile?, keep: InputFile?), on engine: Engine) throws -> SoftmaxOptions {
        SoftmaxOptions(scale: scale, additiveMask: try masks.additive?.tensor(on: engine),
                       keepMask: try masks.keep?.tensor(on: engine), variant: variant)
    }
}
