/// The tool's exit codes (documented in `--help` and the README).
enum ExitCode: Int32 {
    /// Success.
    case success = 0
    /// A failure while running (I/O while writing, an engine error).
    case runtimeFailure = 1
    /// A usage error or bad input (unreadable or invalid model, bad flag).
    case usageOrBadInput = 2
    /// The accuracy budget cannot be met: OUT is not written unless `--force`.
    case budgetNotMet = 3
    /// `--verify` failed: OUT could not be reloaded and run, or its accuracy is below the budget.
    case verificationFailed = 4
}

/// The EXIT CODES section of every `--help`.
let exitCodesHelp = """
    EXIT CODES:
      0  success
      1  runtime failure (an engine error, a file that cannot be written)
      2  usage error or bad input (unreadable or invalid model, unknown option)
      3  the accuracy budget cannot be met: OUT is not written unless --force (which writes
         it and still exits 3)
      4  --verify failed: OUT cannot be reloaded and run, or its validation accuracy is below
         the input model's minus --max-accuracy-drop
    """

/// An error the command line reports and maps to an exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: ExitCode
    /// What goes to stdout before the message (the summary of a run that wrote OUT and then failed).
    var output = ""
    /// Under mpirun: true when every rank meets this error alike (rank 0 alone prints it);
    /// false when it is this rank's own (this rank prints it).
    var everyRank = true
    /// Nothing to print: another rank failed and says why (`Ranks`).
    var silent = false

    var description: String { message }

    static func usage(_ message: String) -> CLIError { CLIError(message: message, code: .usageOrBadInput) }

    /// Another rank of the job failed and reports it; this one stops with exit 1.
    static var quiet: CLIError {
        var e = CLIError(message: "", code: .runtimeFailure)
        e.silent = true
        return e
    }
}
