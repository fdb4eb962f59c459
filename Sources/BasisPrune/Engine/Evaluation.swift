import Foundation

/// Top-1 accuracy and mean cross-entropy of a classifier on labelled images.
public struct EvaluationResult: Sendable, Equatable, Codable {
    /// Fraction of images whose arg-max logit is the label.
    public var accuracy: Double
    /// Mean cross-entropy of the softmax of the logits.
    public var loss: Double
    /// Images over the pass's wall time less the time spent compiling oneDNN plans (on the
    /// first batch of each shape): the rate a long run settles at.
    public var imagesPerSecond: Double
    public var count: Int
    public var correct: Int
    /// Per image, in the order of the indices evaluated: whether its arg-max is the label (not
    /// encoded).
    public var correctness: [Bool] = []
    /// Per image, in the same order: the arg-max class (not encoded).
    public var predictions: [Int32] = []

    enum CodingKeys: String, CodingKey {
        case accuracy, loss, count, correct
        case imagesPerSecond = "images_per_second"
    }
}

extension Executor {
    /// The rate and accuracy an evaluation's progress line states.
    static func progressDetail(images: Int, seconds: Double, correct: Int, of scored: Int) -> String {
        String(format: "%.0f img/s, accuracy %.2f %%", Double(images) / max(seconds, 1e-9), 100 * Double(correct) / Double(scored))
    }

    /// Runs the model over `indices` of `data` in batches of `batchSize` and scores its first
    /// output as logits `[batch, classes]`. `parameters` replace the initializers of the same
    /// names (trained scaling factors). With several ranks in `sharing`, batch `b` runs on rank
    /// `b % ranks` and every rank gets the whole result.
    public func evaluate(
        _ data: Preprocessor, indices: [Int], batchSize: Int, reporter: any Reporter = SilentReporter(),
        parameters: [String: Value] = [:], sharing: WorkSharing = WorkSharing()
    ) throws(EngineError) -> EvaluationResult {
        guard let inputName = inputNames.first, let outputName = outputNames.first else {
            throw .graph("the model has no input or no output")
        }
        let start = Date()
        var done = 0, correctSoFar = 0
        // oneDNN plans with these parameters, per batch shape (nil: not covered), and the
        // seconds spent compiling them, which the throughput leaves out.
        var plans: [[Int]: DNNLForward?] = [:]
        var compiling = 0.0
        let batches = (indices.count + batchSize - 1) / batchSize
        // Per batch: its summed cross-entropy, then per image 2 * its arg-max class, plus 1 if
        // that is its label.
        let scored = try sharing.shared(units: batches) { (b: Int) throws(EngineError) -> [Double] in
            let batch = indices[b * batchSize ..< min((b + 1) * batchSize, indices.count)]
            let (input, labels) = data.inputBatch(batch)
            if plans[input.shape] == nil {
                let compileStart = Date()
                plans[input.shape] = .some(oneDNNPlan(shape: input.shape, parameters: parameters))
                compiling += Date().timeIntervalSince(compileStart)
            }
            let outputs: [String: Value]
            if let plan = plans[input.shape]! { outputs = plan.run(input) } else { outputs = try run([inputName: input], parameters: parameters) }
            guard let logits = outputs[outputName] else { throw .graph("output '\(outputName)' missing") }
            guard logits.dataType == .float, logits.shape.count == 2, logits.shape[0] == batch.count else {
                throw .graph("output '\(outputName)' has shape \(logits.shape), not [batch, classes] of float")
            }
            let classes = logits.shape[1]
            var result = [Double](repeating: 0, count: 1 + batch.count)
            logits.withElements(as: Float.self) { z in
                for row in 0..<batch.count {
                    let label = Int(labels[row])
                    let scores = UnsafeBufferPointer(rebasing: z[row * classes..<(row + 1) * classes])
                    var best = 0
                    var maxScore = -Float.infinity
                    for (c, s) in scores.enumerated() where s > maxScore {
                        maxScore = s
                        best = c
                    }
                    result[1 + row] = Double(2 * best + (best == label ? 1 : 0))
                    let sum = scores.reduce(0.0) { $0 + exp(Double($1 - maxScore)) }
                    let target = label >= 0 && label < classes ? Double(scores[label] - maxScore) : -Double.infinity
                    result[0] += log(sum) - target
                }
            }
            // Progress of this rank, scaled to the whole pass; with several ranks the pass is
            // finished (and its accuracy stated) only once every rank's results are in, below.
            done += batch.count
            correctSoFar += result.dropFirst().reduce(0) { $0 + Int($1) & 1 }
            let elapsed = Date().timeIntervalSince(start)
            let reach = sharing.size > 1 ? indices.count - 1 : indices.count
            reporter.progress(phase: "eval", done: min(reach, done * sharing.size), total: indices.count,
                              detail: Self.progressDetail(images: done * sharing.size, seconds: elapsed, correct: correctSoFar, of: done))
            return result
        }
        var lossSum = 0.0
        var correctness: [Bool] = [], predictions: [Int32] = []
        correctness.reserveCapacity(indices.count)
        predictions.reserveCapacity(indices.count)
        for result in scored {
            lossSum += result[0]
            correctness += result.dropFirst().map { Int($0) & 1 != 0 }
            predictions += result.dropFirst().map { Int32(Int($0) >> 1) }
        }
        let correct = correctness.reduce(0) { $0 + ($1 ? 1 : 0) }
        let elapsed = Date().timeIntervalSince(start)
        if sharing.size > 1, !indices.isEmpty {
            reporter.progress(phase: "eval", done: indices.count, total: indices.count,
                              detail: Self.progressDetail(images: indices.count, seconds: elapsed, correct: correct, of: indices.count))
        }
        return EvaluationResult(
            accuracy: indices.isEmpty ? 0 : Double(correct) / Double(indices.count),
            loss: indices.isEmpty ? 0 : lossSum / Double(indices.count),
            imagesPerSecond: Double(indices.count) / max(elapsed - compiling, 1e-9), count: indices.count, correct: correct,
            correctness: correctness, predictions: predictions)
    }
}
