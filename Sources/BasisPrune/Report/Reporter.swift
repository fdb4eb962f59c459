/// Where long-running library work reports progress and warnings. The command line supplies
/// one (progress bars on a terminal, plain lines otherwise); the library never prints.
public protocol Reporter: Sendable {
    /// `done` of `total` units of `phase` are finished; `detail` is extra text such as a loss.
    func progress(phase: String, done: Int, total: Int, detail: String)
    /// Something the user should know that does not stop the work.
    func warning(_ message: String)
}

/// A reporter that drops everything (tests, `--quiet`).
public struct SilentReporter: Reporter {
    public init() {}
    public func progress(phase: String, done: Int, total: Int, detail: String) {}
    public func warning(_ message: String) {}
}

/// Passes progress on under a fixed phase name (for work that reports its own phase).
public struct PhaseReporter: Reporter {
    public let base: any Reporter
    public let phase: String

    public init(base: any Reporter, phase: String) {
        self.base = base
        self.phase = phase
    }

    public func progress(phase: String, done: Int, total: Int, detail: String) {
        base.progress(phase: self.phase, done: done, total: total, detail: detail)
    }

    public func warning(_ message: String) { base.warning(message) }
}
