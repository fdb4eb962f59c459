import Foundation

/// The processes of a data-parallel job (MPI ranks) and the one collective the job needs.
///
/// Every rank runs the whole job on the same inputs; only the passes over images are shared:
/// `shared(units:_:)` runs each rank's units of work and hands every rank every unit's result,
/// in unit order, so that what follows (sums, choices) is computed from the same numbers on
/// every rank, and is the same whatever the number of ranks.
public protocol Communicator: Sendable {
    /// This process's rank, `0 ..< size`.
    var rank: Int { get }
    var size: Int { get }
    /// Every rank's `values`, in rank order; the same on every rank. Throws when the other
    /// ranks do not answer in time or the transport fails.
    func allGather(_ values: [Double]) throws(EngineError) -> [[Double]]
}

/// One process: no one to talk to.
public struct SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allGather(_ values: [Double]) throws(EngineError) -> [[Double]] { [values] }
}

/// How passes over images are shared between ranks.
public struct WorkSharing: Sendable {
    public var communicator: any Communicator
    /// Images per unit of a training step: a batch's loss and gradients are the sum of its
    /// micro-batches' (each weighted by its share of the batch) added in micro-batch order, so
    /// they do not depend on how many ranks computed them. At most `batchSize / microBatch`
    /// ranks share a step.
    public var microBatch: Int

    /// What this rank has sent in training steps (with more than one rank).
    public let traffic = Traffic()

    public init(communicator: any Communicator = SingleProcess(), microBatch: Int = 64) {
        self.communicator = communicator
        self.microBatch = microBatch
    }

    /// Exchanges of training steps this rank took part in and the bytes it sent in them.
    public final class Traffic: @unchecked Sendable {
        private let lock = NSLock()
        private var steps = 0, bytes = 0

        func record(bytes: Int) {
            lock.lock()
            steps += 1
            self.bytes += bytes
            lock.unlock()
        }

        public var trainingSteps: (count: Int, bytesSent: Int) {
            lock.lock()
            defer { lock.unlock() }
            return (steps, bytes)
        }
    }

    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }

    /// Which rank runs unit `unit`: round robin.
    public func owner(of unit: Int) -> Int { unit % communicator.size }

    /// Runs `body` for each unit `0 ..< units` this rank owns and returns every unit's result
    /// in unit order, on every rank. When `body` throws on some ranks, every rank throws: the
    /// lowest failing rank its own error, every other rank `EngineError.otherRank`.
    public func shared(units: Int, training: Bool = false, _ body: (Int) throws(EngineError) -> [Double]) throws(EngineError) -> [[Double]] {
        guard communicator.size > 1 else {
            var results: [[Double]] = []
            for unit in 0..<units { results.append(try body(unit)) }
            return results
        }
        // Sent: status (0 ok, 1 failed), then per owned unit its length and values.
        var sent: [Double] = [0]
        var failure: EngineError?
        for unit in stride(from: communicator.rank, to: units, by: communicator.size) {
            do {
                let values = try body(unit)
                sent.append(Double(values.count))
                sent += values
            } catch {
                failure = error
                sent = [1]
                break
            }
        }
        let all = try communicator.allGather(sent)
        if training { traffic.record(bytes: 8 * sent.count) }
        if let first = all.indices.first(where: { all[$0].first != 0 }) {
            if first == communicator.rank, var failure {
                failure.failedRank = first
                throw failure
            }
            throw EngineError.otherRank(first)
        }
        var results = [[Double]](repeating: [], count: units)
        for (rank, values) in all.enumerated() {
            var at = 1
            for unit in stride(from: rank, to: units, by: communicator.size) {
                guard at < values.count else { throw .graph("rank \(rank) sent too few results") }
                let count = Int(values[at])
                guard count >= 0, at + 1 + count <= values.count else { throw .graph("rank \(rank) sent a malformed result") }
                results[unit] = Array(values[at + 1 ..< at + 1 + count])
                at += 1 + count
            }
        }
        return results
    }

    /// Agrees on which ranks failed a step each rank did on its own (loading its data): the
    /// failing ranks, in order, the same on every rank.
    public func failedRanks(_ failed: Bool) throws(EngineError) -> [Int] {
        guard communicator.size > 1 else { return failed ? [0] : [] }
        return try communicator.allGather([failed ? 1 : 0]).enumerated().filter { $0.element.first != 0 }.map(\.offset)
    }
}

extension EngineError {
    /// The job failed on rank `rank`, which reports why; this rank only stops.
    public static func otherRank(_ rank: Int) -> EngineError {
        EngineError(node: "", opType: "", reason: "rank \(rank) failed", failedRank: rank)
    }
}
