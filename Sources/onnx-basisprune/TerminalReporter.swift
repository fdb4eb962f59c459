import BasisPrune
import Foundation

/// Progress on stderr: a redrawn bar with rate and ETA on a terminal, plain lines (at most one
/// every few seconds, and the last) otherwise; nothing with `--quiet`, which prints only errors.
final class TerminalReporter: Reporter, @unchecked Sendable {
    private let quiet: Bool
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()
    private var phaseStart: [String: Date] = [:]
    private var lastLine = Date.distantPast

    init(quiet: Bool) { self.quiet = quiet }

    func progress(phase: String, done: Int, total: Int, detail: String) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let start = phaseStart[phase] ?? now
        if phaseStart[phase] == nil { phaseStart[phase] = now }
        let finished = done >= total
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 && !finished ? " ETA \(Self.duration(elapsed / Double(done) * Double(total - done)))" : ""
        let percent = total > 0 ? 100 * done / total : 100
        if isTerminal {
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let line = "\(phase) [\(bar)] \(percent)% \(done)/\(total) \(detail)\(eta)"
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (finished ? "\n" : "")).utf8))
        } else if finished || now.timeIntervalSince(lastLine) >= 5 {
            lastLine = now
            FileHandle.standardError.write(Data("\(phase): \(done)/\(total) (\(percent)%) \(detail)\(eta)\n".utf8))
        }
        if finished { phaseStart[phase] = nil }
    }

    func warning(_ message: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data("onnx-basisprune: warning: \(message)\n".utf8))
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
