/// The tool's exit codes (documented in `--help` and the README).
enum ExitCode: Int32 {
    /// Success.
    case success = 0
    /// A failure while running (I/O while writing, an engine error).
    case runtimeFailure = 1
    /// A usage error or bad input (unreadable or invalid model, bad flag).
    case usageOrBadInput = 2
}

/// An error the command line reports and maps to an exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: ExitCode

    var description: String { message }

    static func usage(_ message: String) -> CLIError { CLIError(message: message, code: .usageOrBadInput) }
}
