/// One kernel to build and launch: its file (relative to `Kernels/`), entry point and
/// `-D` defines. The same value keys the program cache, the kernel pool, benchmark
/// labels and tuning entries, so a kernel is named the same way everywhere.
public struct KernelSpec: Hashable, Sendable, CustomStringConvertible {
    /// The `.cl` file, relative to `Kernels/`, e.g. `softmax/online.cl`.
    public let file: String
    /// The `__kernel` function to launch.
    public let entry: String
    /// Defines, always kept sorted by name (so equal specs render and hash alike).
    public let defines: [Define]

    /// One `-Dname=value` build option.
    public struct Define: Hashable, Sendable, Comparable {
        /// The macro's name, e.g. `WG_SIZE`.
        public let name: String
        /// Its value as text.
        public let value: String

        /// Orders defines by name (the order they are kept and rendered in).
        public static func < (lhs: Define, rhs: Define) -> Bool { lhs.name < rhs.name }
    }

    /// A spec of `entry` in `file` with `defines` (values rendered with `description`,
    /// sorted by name).
    public init(file: String, entry: String, defines: [String: CustomStringConvertible] = [:]) {
        self.file = file
        self.entry = entry
        self.defines = defines.map { Define(name: $0.key, value: $0.value.description) }.sorted()
    }

    /// The build options the defines stand for, in name order.
    var buildOptions: [String] { defines.map { "-D\($0.name)=\($0.value)" } }

    /// `file:entry` followed by the `-D` options in name order, e.g.
    /// `copy/copy.cl:copy_float -DCOPY_VECS=2048 -DFK_NT_STORE=1 -DWG_SIZE=1`.
    public var description: String { ([file + ":" + entry] + buildOptions).joined(separator: " ") }
}
