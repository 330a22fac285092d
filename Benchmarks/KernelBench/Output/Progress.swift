import Foundation

/// One line of progress on standard error, redrawn in place, and only when standard error
/// is a terminal: redirected runs (CI, `> results.json`) get nothing but results.
enum Progress {
    static let isShown = isatty(STDERR_FILENO) == 1

    static func show(_ text: String) {
        guard isShown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
    }

    static func clear() {
        guard isShown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
