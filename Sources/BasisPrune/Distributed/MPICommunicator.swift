internal import CMPIShim
import Foundation

/// The ranks of a job started by Open MPI's `mpirun`, reached through the `CMPIShim` C target
/// (MPI's handles are C macros). One per process: MPI is initialised once and finalised once.
///
/// Every collective is non-blocking underneath and given up after `timeout` seconds, so a
/// rank never waits forever for a rank that hangs; a rank that dies is Open MPI's to notice
/// (`mpirun` then ends the others).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks on this host (they share its cores).
    public let localSize: Int
    public let timeout: Double
    private let lock = NSLock()
    private var sent = 0, collectives = 0
    private var failed = false

    /// Whether this process was started by `mpirun` (which sets `OMPI_COMM_WORLD_SIZE`), as
    /// opposed to run on its own, where MPI is not initialised at all.
    public static var launched: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// Initialises MPI. `timeout`: seconds a collective may wait for the other ranks.
    public init(timeout: Double) throws(EngineError) {
        var rank: Int32 = 0, size: Int32 = 0, local: Int32 = 0
        let rc = cmpi_init(&rank, &size, &local)
        guard rc == 0 else { throw .graph("MPI could not start: \(String(cString: cmpi_error_string(rc)))") }
        self.rank = Int(rank)
        self.size = Int(size)
        self.localSize = max(1, Int(local))
        self.timeout = timeout
    }

    /// Bytes this rank has sent, and collectives it has joined, so far.
    public var traffic: (bytesSent: Int, collectives: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (sent, collectives)
    }

    public func allGather(_ values: [Double]) throws(EngineError) -> [[Double]] {
        var counts = [Int](repeating: 0, count: size)
        var rc = counts.withUnsafeMutableBufferPointer { cmpi_allgather_count(values.count, $0.baseAddress!, timeout) }
        guard rc == 0 else { throw failure(rc) }
        var received = [Double](repeating: 0, count: counts.reduce(0, +))
        rc = values.withUnsafeBufferPointer { v in
            received.withUnsafeMutableBufferPointer { r in
                counts.withUnsafeBufferPointer { cmpi_allgatherv_double(v.baseAddress, values.count, r.baseAddress, $0.baseAddress!, timeout) }
            }
        }
        guard rc == 0 else { throw failure(rc) }
        lock.lock()
        sent += 8 * (values.count + 1)
        collectives += 1
        lock.unlock()
        var out: [[Double]] = []
        var at = 0
        for c in counts {
            out.append(Array(received[at ..< at + c]))
            at += c
        }
        return out
    }

    /// Whether a collective failed or timed out: the ranks are out of step, and only
    /// `abort` ends the job cleanly.
    public var broken: Bool {
        lock.lock()
        defer { lock.unlock() }
        return failed
    }

    private func failure(_ rc: Int32) -> EngineError {
        lock.lock()
        failed = true
        lock.unlock()
        return rc == CMPI_TIMEOUT
            ? .graph("rank \(rank): the other ranks did not answer within \(Int(timeout)) s (--collective-timeout)")
            : .graph("rank \(rank): MPI failed: \(String(cString: cmpi_error_string(rc)))")
    }

    /// Ends MPI in this process (after the job, on every rank).
    public func finalize() { _ = cmpi_finalize() }

    /// Ends every rank of the job at once with exit code `code`.
    public func abort(code: Int32) -> Never {
        cmpi_abort(code)
        exit(code)
    }
}
