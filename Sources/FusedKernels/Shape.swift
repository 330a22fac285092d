/// A row-major `[rows, cols]` matrix shape; ops work row-wise over the last axis.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var cols: Int

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
    }

    public var count: Int { rows * cols }
    public var description: String { "[\(rows), \(cols)]" }

    /// Kernels index with 32-bit ints; larger tensors are rejected up front.
    static let maxElements = Int(Int32.max)

    func validate(_ argument: String) throws {
        guard rows >= 1, cols >= 1 else {
            throw FusedKernelsError.invalidShape(argument: argument, rows: rows, cols: cols)
        }
        let (product, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard !overflow, product <= Shape.maxElements else {
            throw FusedKernelsError.invalidArgument(
                argument: argument, reason: "shape \(self) has more than \(Shape.maxElements) elements")
        }
    }
}
