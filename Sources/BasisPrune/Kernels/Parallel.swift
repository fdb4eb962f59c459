internal import Dispatch

/// Splits `0..<count` into contiguous chunks run on up to `workers` threads.
///
/// Runs inline when one worker suffices, so small problems pay no dispatch cost.
enum Parallel {
    /// Number of workers the kernels use (`ComputeThreads.set`; the machine has 2 cores). Set
    /// once, before any work starts.
    nonisolated(unsafe) static var workerCount = 2

    static func forEachChunk(
        count: Int, workers: Int = workerCount, _ body: (_ worker: Int, _ range: Range<Int>) -> Void
    ) {
        let w = max(1, min(workers, count))
        if w == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        // Workers touch disjoint ranges of caller-owned buffers, which Sendable cannot express.
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                let lo = count * worker / w
                let hi = count * (worker + 1) / w
                shared.value(worker, lo..<hi)
            }
        }
    }
}

private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}
