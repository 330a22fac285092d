/// Which member of the softmax family an op computes over each row's last axis.
public enum SoftmaxKind: String, Sendable, CaseIterable {
    /// e^z / Σ e^z, x's shape out.
    case softmax
    /// z − log Σ e^z, x's shape out.
    case logSoftmax
    /// log Σ e^z, x's shape with the last extent 1 out.
    case logSumExp

    /// The output's shape for an input of `shape`: the same, or the last extent 1.
    func outputShape(_ shape: [Int]) -> [Int] { self == .logSumExp ? Array(shape.dropLast()) + [1] : shape }
}

/// Which forward algorithm the OpenCL kernel and the CPU path run for softmax and
/// log-softmax (log-sum-exp and the normalizer statistics always take one online read
/// on OpenCL, split into shards for few rows, and `SoftmaxRowsCPU` on the CPU path).
public enum SoftmaxVariant: String, Codable, Sendable, CaseIterable {
    /// Per shape and device, from measured data. OpenCL: the tuning file's choice, else
    /// the defaults measured on PoCL (`block` for rows that fit on chip on a CPU device,
    /// else `online`), and `split` when there are fewer rows than compute units can
    /// share. CPU path: `split` for fewer rows than cores (rows long enough to split),
    /// else `block`, the fastest measured there (`SoftmaxVariantsCPU.autoVariant`).
    case auto
    /// The online normalizer (Milakov & Gimelshein): one read computes (max, sum),
    /// a second read writes the output; any row length. CPU path: the same, per-lane
    /// (m, d) in SIMD16 accumulators.
    case online
    /// The safe three-pass softmax with the row held on chip: max; e^(z−m) once per
    /// element into a scratch row, summed; normalise. One exp per element instead of
    /// two. Rows longer than `blockMaxColumns` run `online`. CPU path: `SoftmaxRowsCPU`
    /// (z built in the output row, e^(z−m) in place, any row length).
    case block
    /// The safe three-pass softmax from memory: max; sum of e^(z−m); normalise.
    /// The baseline the online normalizer saves a read over. CPU path: the same, x
    /// read three times.
    case threePass
    /// Dukhan & Ablavatski's two-pass softmax: the sum is kept as (mantissa, exponent)
    /// so no max pass is needed; a second read writes the output. Accurate for |z| < ~9e4
    /// (beyond, ties and ±1e30 rows stay right, differences of order 1 are lost). CPU
    /// path: the same.
    case twoPass
    /// The online normalizer with each row's columns split into shards across
    /// work-items (threads on the CPU path), per-shard (max, sum) merged; what `auto`
    /// uses when there are fewer rows than compute units.
    case split

    /// The scratch row of the block kernel (64 KiB of floats: a CPU core's L2).
    public static let blockMaxColumns = 16384
}

/// Options of the softmax family: z = scale·x + additiveMask, and z = −∞ where
/// `keepMask` is false. Each mask is a tensor of the same engine that broadcasts to x's
/// shape (NumPy rules: a `[cols]` mask applies to every row, a `[B, 1, L, L]` mask to
/// every head): `additiveMask` float32, `keepMask` bool.
public struct SoftmaxOptions: Sendable {
    /// Multiplies x before the masks are applied (1 / temperature); must be finite.
    public var scale: Float
    /// A float32 tensor added to scale·x (−∞ removes a position); broadcasts to x's shape.
    public var additiveMask: Tensor?
    /// A bool tensor: false removes a position (z = −∞, and a NaN there is ignored);
    /// broadcasts to x's shape.
    public var keepMask: Tensor?
    /// The forward algorithm on OpenCL and on the CPU path; results differ only by
    /// rounding (and `twoPass`'s range). The GPU preset runs every variant but `split`
    /// as its one online kernel (`split` forces column shards there too).
    public var variant: SoftmaxVariant
    /// The kernels' shape on OpenCL: `cpu` (a work-item owns whole rows), `gpu` (a
    /// work-group shares a row: coalesced loads, the (m, d) reduction in `__local`
    /// memory), or `auto`, the device type's. Ignored on the CPU path.
    public var preset: KernelPreset

    /// Options with the given scale, masks, algorithm and preset; the defaults are plain
    /// softmax.
    public init(scale: Float = 1, additiveMask: Tensor? = nil, keepMask: Tensor? = nil,
                variant: SoftmaxVariant = .auto, preset: KernelPreset = .auto) {
        self.scale = scale
        self.additiveMask = additiveMask
        self.keepMask = keepMask
        self.variant = variant
        self.preset = preset
    }
}
