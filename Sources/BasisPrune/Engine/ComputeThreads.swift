/// The threads the engine computes with: its own kernels' workers, OpenBLAS's and oneDNN's
/// (OpenMP's). Process-wide, like the libraries' own settings: set once, before any work
/// (the command line's `--threads`; ranks of an MPI job sharing a host divide its cores).
///
/// Results depend on it in the last bits (oneDNN and OpenBLAS split reductions by thread),
/// so byte-identical outputs need the same count.
public enum ComputeThreads {
    public static func set(_ count: Int) {
        precondition(count >= 1, "a thread count is at least 1")
        Parallel.workerCount = count
        GEMM.setThreads(count)
        DNNLThreads.set(count)
    }

    public static var current: Int { Parallel.workerCount }
}
