import BasisPrune
import Foundation

/// The command line's side of running under `mpirun`: starting MPI, the thread count, who
/// prints, and agreeing on failures each rank meets on its own. Without `mpirun` there is one
/// process and MPI is never started.
enum Ranks {
    /// The options, declared once for every command that can run under mpirun.
    static func options<Target>() -> [Option<Target>] {
        [
            Option("--threads", "T", "compute threads of each process (default: the machine's cores divided by the ranks on this host: \(ProcessInfo.processInfo.activeProcessorCount) without mpirun). Results differ in the last bits with the thread count, so byte-identical reruns need the same T"),
            Option("--micro-batch", "M", "images per unit of work a training step is split into (default \(defaultMicroBatch); prune lowers it to what --memory-limit fits): a batch's gradients are the sum of its micro-batches', added in order, so under mpirun every rank count gives the same OUT; at most --batch-size / M ranks share a step"),
            Option("--collective-timeout", "S", "under mpirun: seconds a rank waits for the others at an exchange before it ends the job (default \(String(format: "%g", defaultTimeout)))"),
        ]
    }

    static let defaultMicroBatch = 64, defaultTimeout = 600.0

    nonisolated(unsafe) private(set) static var mpi: MPICommunicator?

    /// This process's rank, known from `mpirun`'s environment before MPI starts.
    static var rank: Int { mpi?.rank ?? Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] ?? "") ?? 0 }
    static var size: Int { mpi?.size ?? Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] ?? "") ?? 1 }
    /// Whether this process prints progress and its summary and writes files: rank 0.
    static var leads: Bool { rank == 0 }

    /// Starts MPI under `mpirun` and sets the compute threads; returns how passes over images
    /// are shared.
    static func setUp(_ args: Arguments) throws(CLIError) -> WorkSharing {
        let microBatch = try positiveInt(args, "--micro-batch", default: defaultMicroBatch)
        var timeout = defaultTimeout
        if let text = args.values["--collective-timeout"] {
            guard let t = Double(text), t > 0, t.isFinite else { throw .usage("--collective-timeout '\(text)' is not a positive number of seconds") }
            timeout = t
        }
        if mpi == nil, MPICommunicator.launched {
            do { mpi = try MPICommunicator(timeout: timeout) } catch { throw CLIError(message: error.description, code: .runtimeFailure) }
        }
        let local = mpi?.localSize ?? 1
        ComputeThreads.set(try positiveInt(args, "--threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount / local)))
        return WorkSharing(communicator: mpi ?? SingleProcess(), microBatch: microBatch)
    }

    /// Runs `body`, a step every rank does on its own (loading the model and its data), then
    /// agrees with the other ranks on who failed: the lowest failing rank reports its error,
    /// every other rank stops quietly, and all exit 1 (or with the error's own code when every
    /// rank failed, as the same bad flag or file fails everywhere).
    static func agree<T>(_ sharing: WorkSharing, _ body: () throws(CLIError) -> T) throws(CLIError) -> T {
        var value: T?
        var failure: CLIError?
        do { value = try body() } catch { failure = error }
        guard sharing.size > 1 else {
            if let failure { throw failure }
            return value!
        }
        let failed: [Int]
        do { failed = try sharing.failedRanks(failure != nil) } catch { throw CLIError(message: error.description, code: .runtimeFailure) }
        guard let first = failed.first else { return value! }
        guard var failure, first == sharing.rank else { throw CLIError.quiet }
        if failed.count < sharing.size {
            failure.message = "rank \(sharing.rank) of \(sharing.size): \(failure.message)"
            failure.code = .runtimeFailure
        }
        failure.everyRank = false
        throw failure
    }

    /// The command-line error for an engine error of a job shared between ranks: the rank that
    /// failed says why; the others, which only learnt that it failed, stop quietly.
    static func error(_ error: EngineError, prefix: String) -> CLIError {
        guard let failed = error.failedRank else { return CLIError(message: prefix + error.description, code: .runtimeFailure) }
        guard failed == rank else { return .quiet }
        var e = CLIError(message: "rank \(rank) of \(size): " + prefix + error.description, code: .runtimeFailure)
        e.everyRank = false
        return e
    }

    /// Ends MPI (every exit path of a process that started it): after a failed exchange the
    /// ranks are out of step, so the whole job is ended at once.
    static func finish(code: Int32 = 0) {
        guard let mpi else { return }
        if mpi.broken { mpi.abort(code: max(code, 1)) }
        mpi.finalize()
    }
}
