/// One kernel to build and launch: its file (relative to `Kernels/`), entry point and
/// `-D` defines. The same value keys the program cache, the kernel pool, benchmark
/// labels and tuning entries, so a kernel is named the same way everywhere.
public struct KernelSpec: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let entry: String
    /// Defines, always kept sorted by name (so equal specs render and hash alike).
    public let defines: [Define]

    public struct Define: Hashable, Sendable, Comparable {
        public let name: String
        public let value: String

        public static func < (lhs: Define, rhs: Define) -> Bool { lhs.name < rhs.name }
    }

    public init(file: String, entry: String, defines: [String: CustomStringConvertible] = [:]) {
        self.file = file
        self.entry = entry
        self.defines = defines.map { Define(name: $0.key, value: $0.value.description) }.sorted()
    }

    /// The build options the defines stand for, in name order.
    var buildOptions: [String] { defines.map { "-D\($0.name)=\($0.value)" } }

    public var description: String { ([file + ":" + entry] + buildOptions).joined(separator: " ") }
}
