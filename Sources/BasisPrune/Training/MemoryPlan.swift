import Foundation

/// How a job sizes its batches so that its resident memory stays under `limit` bytes
/// (`--memory-limit`). What a batch holds grows with its images: a oneDNN plan's activations
/// (and, for training, the gradient buffers of its backward sweep), measured per image on a
/// plan for one image (`Executor.bytesPerImage`). Each kind of pass gets a fixed share of the
/// limit, so the sizes are a function of the model and the limit, never of the machine's
/// state: the same flags give the same batches and the same output bytes.
///
/// The shares: a training micro-batch 30 % (one plan per executor is kept when plans are
/// large, `Executor.spareCacheBytes`), an evaluation batch 10 % (up to three such plans live
/// at once: the input model's, a candidate's full batch and its last, smaller batch), the
/// channel means of mean replacement 10 %. The rest holds the models, the images, the plans'
/// weights and what the allocator keeps.
public struct MemoryPlan: Sendable, Equatable {
    public var limit: Int

    public init(limit: Int) { self.limit = limit }

    /// A quarter of the machine's physical memory (or of the control group's limit, if lower).
    public static var defaultLimit: Int {
        var total = ResidentMemory.physical
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let bytes = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes > 0 {
                total = min(total, bytes)
            }
        }
        return total / 4
    }

    /// Images per batch for `bytesPerImage` within `share` of the limit: at most `cap`, at
    /// least 1, a multiple of 8 from 8 up. Without a measurement (not on oneDNN): `cap`.
    func images(_ bytesPerImage: Int?, share: Double, cap: Int) -> Int {
        guard let bytesPerImage, bytesPerImage > 0 else { return cap }
        let fits = Int(Double(limit) * share) / bytesPerImage
        let n = min(cap, max(1, fits))
        return n >= 8 && n < cap ? n / 8 * 8 : n
    }

    /// Images per evaluation batch (forward only).
    public func evaluationBatch(bytesPerImage: Int?, cap: Int = 256) -> Int {
        images(bytesPerImage, share: 0.1, cap: cap)
    }

    /// Images per training micro-batch (forward and backward sweep).
    public func microBatch(bytesPerImage: Int?, cap: Int) -> Int {
        images(bytesPerImage, share: 0.3, cap: cap)
    }

    /// Bytes the channel means' values may take per batch.
    public var meansBytes: Int { limit / 10 }
}

extension PruningOptions {
    /// With a memory plan: these options with the evaluation batch sized for `executor` (the
    /// input model) on images of `imageShape` ([C, H, W]).
    func sizingEvaluation(for executor: Executor, imageShape: [Int]) -> PruningOptions {
        guard let memory else { return self }
        var sized = self
        sized.evaluationBatch = memory.evaluationBatch(bytesPerImage: executor.bytesPerImage(imageShape: imageShape), cap: evaluationBatch)
        return sized
    }

    /// With a memory plan: these options with the micro-batch of training steps sized for
    /// training `parameters` of `executor`'s model on images of `imageShape`.
    func sizingMicroBatch(for executor: Executor, imageShape: [Int], parameters: [String: Value]) -> PruningOptions {
        guard let memory else { return self }
        var sized = self
        let bytes = executor.bytesPerImage(imageShape: imageShape, training: parameters)
        sized.sharing.microBatch = memory.microBatch(bytesPerImage: bytes, cap: sharing.microBatch)
        return sized
    }
}

extension Preprocessor {
    /// The shape of one image as the model reads it, [C, H, W].
    public var imageShape: [Int] { [preprocessing.channels, preprocessing.height, preprocessing.width] }
}
