/// The check `--verify` makes: a model reloaded from disk, run beside the input model on the
/// same labelled images.
public struct Verification: Sendable, Codable, Equatable {
    /// Top-1 accuracy of the reloaded model.
    public var accuracy: Double
    /// Top-1 accuracy of the reference (input) model on the same images.
    public var referenceAccuracy: Double
    /// Fraction of images where both models predict the same class.
    public var agreement: Double
    /// Whether `accuracy` is at least the floor it was checked against.
    public var passed: Bool

    enum CodingKeys: String, CodingKey {
        case accuracy, agreement, passed
        case referenceAccuracy = "reference_accuracy"
    }

    public init(accuracy: Double, referenceAccuracy: Double, agreement: Double, passed: Bool) {
        self.accuracy = accuracy
        self.referenceAccuracy = referenceAccuracy
        self.agreement = agreement
        self.passed = passed
    }

    /// Runs `reference` and `candidate` over `indices` of `data`; passes when the candidate's
    /// accuracy is at least the reference's minus `maxDrop` (a fraction, 0.01 = one point).
    public static func run(
        reference: Executor, candidate: Executor, data: Preprocessor, indices: [Int], maxDrop: Double, batchSize: Int = 256,
        reporter: any Reporter = SilentReporter()
    ) throws(EngineError) -> Verification {
        let labels = indices.map { Int(data.images.labels[$0]) }
        let a = try reference.topOne(data, indices: indices, batchSize: batchSize, reporter: PhaseReporter(base: reporter, phase: "verify: input model"))
        let b = try candidate.topOne(data, indices: indices, batchSize: batchSize, reporter: PhaseReporter(base: reporter, phase: "verify: output model"))
        let count = Double(max(indices.count, 1))
        let referenceAccuracy = Double(zip(a, labels).filter { $0 == $1 }.count) / count
        let accuracy = Double(zip(b, labels).filter { $0 == $1 }.count) / count
        let agreement = Double(zip(a, b).filter { $0 == $1 }.count) / count
        return Verification(accuracy: accuracy, referenceAccuracy: referenceAccuracy, agreement: agreement,
                            passed: accuracy >= referenceAccuracy - maxDrop - 1e-12)
    }
}

extension Executor {
    /// The arg-max class of the first output (logits `[batch, classes]`) for each of `indices`.
    public func topOne(_ data: Preprocessor, indices: [Int], batchSize: Int, reporter: any Reporter = SilentReporter()) throws(EngineError) -> [Int] {
        guard let inputName = inputNames.first, let outputName = outputNames.first else { throw .graph("the model has no input or no output") }
        var predictions: [Int] = []
        predictions.reserveCapacity(indices.count)
        var start = 0
        while start < indices.count {
            let batch = indices[start..<min(start + batchSize, indices.count)]
            start += batch.count
            let (inputs, _) = data.batch(indices: batch)
            let input = Value(shape: [batch.count, data.preprocessing.channels, data.preprocessing.height, data.preprocessing.width], floats: inputs)
            guard let logits = try run([inputName: input])[outputName], logits.dataType == .float, logits.shape.count == 2,
                  logits.shape[0] == batch.count else { throw .graph("output '\(outputName)' is not [batch, classes] of float") }
            let classes = logits.shape[1]
            logits.withElements(as: Float.self) { z in
                for row in 0..<batch.count {
                    var best = 0
                    for c in 1..<max(classes, 1) where z[row * classes + c] > z[row * classes + best] { best = c }
                    predictions.append(best)
                }
            }
            reporter.progress(phase: "predict", done: start, total: indices.count, detail: "")
        }
        return predictions
    }
}
