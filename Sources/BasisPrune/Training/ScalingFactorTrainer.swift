import Foundation

/// Trains the scaling factors of a split model (every other weight frozen) and measures the
/// first-order Taylor importance of each basis, `sum over batches of |s_i * dL/ds_i|`.
public struct ScalingFactorTrainer: Sendable {
    public var executor: Executor
    public let data: Preprocessor
    public var batchSize: Int
    /// What the factors are trained and importance is measured against.
    public var targets: TrainingTargets
    public var reporter: any Reporter
    /// How each batch is split into micro-batches and shared between ranks.
    public var sharing: WorkSharing

    public init(executor: Executor, data: Preprocessor, batchSize: Int, targets: TrainingTargets = TrainingTargets(),
                reporter: any Reporter = SilentReporter(), sharing: WorkSharing = WorkSharing()) {
        self.executor = executor
        self.data = data
        self.batchSize = batchSize
        self.targets = targets
        self.reporter = reporter
        self.sharing = sharing
    }

    /// One pass over `indices` (in the order given) with a forward and backward pass per
    /// batch. With an optimizer, the factors of kept bases are updated after each batch; the
    /// Taylor importance of every basis is accumulated either way, over the batches that hold
    /// any of the last `importanceImages` images (all of them when nil); training batches
    /// before that take one backward sweep instead of two (with a teacher, importance has a
    /// sweep of its own) and learn the same factors. Returns mean loss, accuracy and the
    /// importance by factor name.
    public func pass(
        _ indices: [Int], state: inout ScalingState, optimizer: inout Optimizer?, phase: String, importanceImages: Int? = nil
    ) throws(EngineError) -> (loss: Double, accuracy: Double, importance: [String: [Double]]) {
        let measuredFrom = indices.count - min(importanceImages ?? indices.count, indices.count)
        var importance = Dictionary(uniqueKeysWithValues: state.layers.map { ($0.factors, [Double](repeating: 0, count: $0.rank)) })
        let start = Date()
        var lossSum = 0.0, correct = 0, done = 0
        var begin = 0
        while begin < indices.count {
            let batch = indices[begin..<min(begin + batchSize, indices.count)]
            begin += batch.count
            let measures = begin > measuredFrom
            let result = try executor.sharedLossAndGradients(batch, data: data, targets: targets, parameters: state.parameters(),
                                                             names: state.layers.map(\.factors), importanceOnly: optimizer == nil,
                                                             measuresImportance: measures, sharing: sharing)
            var gradients: [String: [Float]] = [:]
            for layer in state.layers {
                gradients[layer.factors] = result.gradients[layer.factors]?.floats
                guard measures, let g = result.importanceGradients[layer.factors]?.floats else { continue }
                let s = state.factors[layer.factors]!
                var theta = importance[layer.factors]!
                // Per batch |s * dL/ds|, with dL/ds of the batch's summed loss.
                for i in 0..<layer.rank { theta[i] += Double(abs(s[i] * g[i])) * Double(batch.count) }
                importance[layer.factors] = theta
            }
            if optimizer != nil { optimizer!.update(&state.factors, gradients: gradients, masks: state.kept) }
            lossSum += result.loss * Double(batch.count)
            correct += result.correct
            done += batch.count
            let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-9)
            reporter.progress(phase: phase, done: done, total: indices.count,
                              detail: String(format: "loss %.4f, %.0f img/s", lossSum / Double(done), rate))
        }
        // Removed bases have no importance: they are gone.
        for (name, kept) in state.kept { for i in kept.indices where !kept[i] { importance[name]![i] = 0 } }
        return (lossSum / Double(max(done, 1)), Double(correct) / Double(max(done, 1)), importance)
    }
}
