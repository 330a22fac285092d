/// Rows × columns of the matrix the CPU path's row-wise algorithms work on: a tensor's
/// leading axes flattened into rows, its last axis as columns.
struct Shape: Hashable, Sendable, CustomStringConvertible {
    var rows: Int
    var cols: Int

    var count: Int { rows * cols }
    var description: String { "[\(rows), \(cols)]" }
}
