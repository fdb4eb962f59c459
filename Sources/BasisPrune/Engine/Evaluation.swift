import Foundation

/// Top-1 accuracy and mean cross-entropy of a classifier on labelled images.
public struct EvaluationResult: Sendable, Equatable, Codable {
    /// Fraction of images whose arg-max logit is the label.
    public var accuracy: Double
    /// Mean cross-entropy of the softmax of the logits.
    public var loss: Double
    public var imagesPerSecond: Double
    public var count: Int
    public var correct: Int
    /// Per image, in the order of the indices evaluated: whether its arg-max is the label (not
    /// encoded).
    public var correctness: [Bool] = []

    enum CodingKeys: String, CodingKey {
        case accuracy, loss, count, correct
        case imagesPerSecond = "images_per_second"
    }
}

extension Executor {
    /// Runs the model over `indices` of `data` in batches of `batchSize` and scores its first
    /// output as logits `[batch, classes]`. `parameters` replace the initializers of the same
    /// names (trained scaling factors).
    public func evaluate(
        _ data: Preprocessor, indices: [Int], batchSize: Int, reporter: any Reporter = SilentReporter(),
        parameters: [String: Value] = [:]
    ) throws(EngineError) -> EvaluationResult {
        guard let inputName = inputNames.first, let outputName = outputNames.first else {
            throw .graph("the model has no input or no output")
        }
        let start = Date()
        var correct = 0
        var correctness: [Bool] = []
        correctness.reserveCapacity(indices.count)
        var lossSum = 0.0
        var done = 0
        var batchStart = 0
        // oneDNN plans with these parameters, per batch shape (nil: not covered).
        var plans: [[Int]: DNNLForward?] = [:]
        while batchStart < indices.count {
            let batch = indices[batchStart..<min(batchStart + batchSize, indices.count)]
            batchStart += batch.count
            let (input, labels) = data.inputBatch(batch)
            if plans[input.shape] == nil { plans[input.shape] = .some(oneDNNPlan(shape: input.shape, parameters: parameters)) }
            let outputs: [String: Value]
            if let plan = plans[input.shape]! { outputs = plan.run(input) } else { outputs = try run([inputName: input], parameters: parameters) }
            guard let logits = outputs[outputName] else { throw .graph("output '\(outputName)' missing") }
            guard logits.dataType == .float, logits.shape.count == 2, logits.shape[0] == batch.count else {
                throw .graph("output '\(outputName)' has shape \(logits.shape), not [batch, classes] of float")
            }
            let classes = logits.shape[1]
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
                    if best == label { correct += 1 }
                    correctness.append(best == label)
                    let sum = scores.reduce(0.0) { $0 + exp(Double($1 - maxScore)) }
                    let target = label >= 0 && label < classes ? Double(scores[label] - maxScore) : -Double.infinity
                    lossSum += log(sum) - target
                }
            }
            done += batch.count
            let elapsed = Date().timeIntervalSince(start)
            reporter.progress(phase: "eval", done: done, total: indices.count,
                              detail: String(format: "%.0f img/s, accuracy %.2f %%", Double(done) / max(elapsed, 1e-9), 100 * Double(correct) / Double(done)))
        }
        let elapsed = Date().timeIntervalSince(start)
        return EvaluationResult(
            accuracy: indices.isEmpty ? 0 : Double(correct) / Double(indices.count),
            loss: indices.isEmpty ? 0 : lossSum / Double(indices.count),
            imagesPerSecond: Double(indices.count) / max(elapsed, 1e-9), count: indices.count, correct: correct,
            correctness: correctness)
    }
}
