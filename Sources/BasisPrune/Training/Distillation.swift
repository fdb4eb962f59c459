import Foundation

/// What the scaling factors are trained, and bases and channel groups ranked, against.
public enum TrainingLoss: String, Sendable, Codable, CaseIterable {
    /// Cross-entropy against the labels.
    case labels
    /// Knowledge distillation from the input model (the teacher): `T^2 * KL(softmax(teacher / T)
    /// || softmax(student / T))`. Needs no labels, so the training images may be unlabeled.
    case distill
    /// The two added, weight 1 each.
    case both

    public var needsTeacher: Bool { self != .labels }
    public var needsLabels: Bool { self != .distill }
}

/// The input model's logits on the training images, computed once before any search: the
/// teacher of `distill` and `both` (`--loss`, `--factor-loss`). For `--method double` it is the
/// model before filter pruning, so the basis stage learns from the same teacher as the filter stage.
///
/// Precomputed rather than run per batch: 10 floats per image (2.4 MB for 60,000 images) and
/// one forward pass over the training images, where the searches pass many more images than
/// that through training and importance (one epoch plus `retrainImages` per round per stage).
public struct TeacherOutputs: Sendable {
    public let classes: Int
    /// Row of each image index of the data set in `logits`, -1 for images not computed.
    let rowOf: [Int32]
    /// `[rows, classes]`, row-major.
    let logits: [Float]

    /// Runs `executor` (the input model) over `indices` of `data` in batches of `batchSize`
    /// (batch `b` on rank `b % ranks` of `sharing`; every rank gets all logits).
    public init(executor: Executor, data: Preprocessor, indices: [Int], batchSize: Int = 256,
                reporter: any Reporter = SilentReporter(), sharing: WorkSharing = WorkSharing()) throws(EngineError) {
        guard let inputName = executor.inputNames.first, let outputName = executor.outputNames.first else {
            throw .graph("the teacher has no input or no output")
        }
        var done = 0
        let batches = (indices.count + batchSize - 1) / batchSize
        let parts = try sharing.shared(units: batches) { (b: Int) throws(EngineError) -> [Double] in
            let batch = indices[b * batchSize ..< min((b + 1) * batchSize, indices.count)]
            let (input, _) = data.inputBatch(batch)
            guard let z = try executor.run([inputName: input])[outputName] else { throw .graph("the teacher's output '\(outputName)' is missing") }
            guard z.dataType == .float, z.shape.count == 2, z.shape[0] == batch.count, z.shape[1] > 0 else {
                throw .graph("the teacher's output has shape \(z.shape), not [batch, classes] of float")
            }
            done += batch.count
            reporter.progress(phase: "teacher outputs", done: min(indices.count, done * sharing.size), total: indices.count, detail: "")
            return z.floats.map(Double.init)
        }
        var rowOf = [Int32](repeating: -1, count: data.images.count)
        for (row, index) in indices.enumerated() { rowOf[index] = Int32(row) }
        let logits = parts.flatMap { $0.map { Float($0) } }
        self.classes = indices.isEmpty ? 0 : logits.count / indices.count
        self.rowOf = rowOf
        self.logits = logits
    }

    /// The logits of images `indices` as `[indices.count, classes]`.
    public func logits(_ indices: ArraySlice<Int>) throws(EngineError) -> Value {
        var batch = [Float](repeating: 0, count: indices.count * classes)
        for (k, index) in indices.enumerated() {
            guard index >= 0, index < rowOf.count, rowOf[index] >= 0 else { throw .graph("no teacher logits for training image \(index)") }
            let row = Int(rowOf[index]) * classes
            for c in 0..<classes { batch[k * classes + c] = logits[row + c] }
        }
        return Value(shape: [indices.count, classes], floats: batch)
    }
}

/// Makes each batch's `TrainingTarget` from the options' loss: its labels, its teacher logits
/// and, with a teacher, one seeded uniform draw per image.
///
/// Why the draws: the distillation loss and its gradient are zero where the student computes
/// the teacher's function, which is where every search starts (the split is exact at unit
/// factors; no channel group is masked yet), so first-order Taylor importance `|s * dL/ds|`
/// of the exact loss measures nothing there. The gradient against a class drawn from the
/// teacher's softened outputs has the exact gradient as its mean, and at the teacher its
/// second moment over a batch is the diagonal of the loss's Hessian (the Fisher information
/// of the softened outputs, the cross terms between images vanishing in expectation), so
/// `|s * g|` ranks like the second-order estimate `s^2 H_ii / 2` of what removing a basis
/// costs, and like the first-order one away from the teacher. Training uses the exact gradient.
public struct TrainingTargets: Sendable {
    public var loss: TrainingLoss
    public var temperature: Double
    public var teacher: TeacherOutputs?
    public var seed: UInt64

    public init(loss: TrainingLoss = .labels, temperature: Double = 4, teacher: TeacherOutputs? = nil, seed: UInt64 = 0) {
        self.loss = loss
        self.temperature = temperature
        self.teacher = teacher
        self.seed = seed
    }

    /// The target of images `batch` with labels `labels` (as `Preprocessor.inputBatch` gives them).
    public func target(_ batch: ArraySlice<Int>, labels: [Int32]) throws(EngineError) -> TrainingTarget {
        guard loss.needsTeacher else { return TrainingTarget(labels: labels) }
        guard let teacher else { throw .graph("--loss \(loss.rawValue) needs the teacher's logits, and none were computed") }
        // The draws depend on the seed and on which images the batch holds (FNV-1a over the
        // indices), so they are the same on every run and differ between passes.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in batch { hash = (hash ^ UInt64(truncatingIfNeeded: index)) &* 0x0000_0100_0000_01B3 }
        var random = SeededRandom(seed: seed, stream: hash)
        let draws = batch.map { _ in Double(random.next() >> 11) * 0x1p-53 }
        return TrainingTarget(labels: loss.needsLabels ? labels : nil, teacher: try teacher.logits(batch), temperature: temperature, draws: draws)
    }
}

extension PruningOptions {
    /// The batch targets of the filter stage (`loss`) with these options' temperature, teacher and seed.
    public var targets: TrainingTargets { TrainingTargets(loss: loss, temperature: temperature, teacher: teacher, seed: seed) }
    /// The batch targets of the basis stage (`factorLoss`).
    public var factorTargets: TrainingTargets { TrainingTargets(loss: factorLoss, temperature: temperature, teacher: teacher, seed: seed) }

    /// The loss of each stage `method` runs, with the flag that sets it.
    public var stageLosses: [(flag: String, loss: TrainingLoss)] {
        (method == .basis ? [] : [("--loss", loss)]) + (method == .filter ? [] : [("--factor-loss", factorLoss)])
    }
    /// Whether a stage that runs needs the input model's logits on the training images.
    public var needsTeacher: Bool { stageLosses.contains { $0.loss.needsTeacher } }
}
