/// What one training batch's logits are scored against: labels (cross-entropy), a teacher's
/// logits (distillation, `Softmax.distillation`), or both, whose losses are added with weight
/// 1 each (the distillation term carries `T^2`, so both gradients have the size of a
/// cross-entropy gradient whatever the temperature).
public struct TrainingTarget: Sendable {
    /// One label per row for the cross-entropy term; nil for none.
    public var labels: [Int32]?
    /// The teacher's logits `[rows, classes]` for the distillation term; nil for none.
    public var teacher: Value?
    /// Softmax temperature `T` of the distillation term.
    public var temperature: Double
    /// One uniform draw in `[0, 1)` per row. With a teacher, importance is measured with the
    /// gradient of the distillation term against a class drawn from the teacher's softened
    /// outputs (`Softmax.distillation`'s `sampledGradient`), and training keeps the exact one.
    public var draws: [Double]?

    public init(labels: [Int32]? = nil, teacher: Value? = nil, temperature: Double = 4, draws: [Double]? = nil) {
        self.labels = labels
        self.teacher = teacher
        self.temperature = temperature
        self.draws = draws
    }
}

/// A loss of a batch's logits, its top-1 hits, and the gradients w.r.t. the logits to send
/// back (one backward sweep each).
struct LossSeeds {
    var loss: Double
    var correct: Int
    var seeds: [Value]
}

extension Executor {
    /// Forward pass with `parameters` replacing the initializers of the same names (the
    /// scaling factors), the mean loss of the first graph output (logits `[batch, classes]`)
    /// against `target`, and reverse-mode gradients w.r.t. every parameter. With a teacher and
    /// draws, `importanceGradients` take a second backward sweep, unless `importanceOnly`
    /// (nothing is trained), where `gradients` are the importance gradients too.
    public func lossAndGradients(
        input: Value, target: TrainingTarget, parameters: [String: Value], importanceOnly: Bool = false
    ) throws(EngineError) -> LossAndGradients {
        let (made, gradients) = try lossAndGradients(input: input, parameters: parameters) { logits throws(EngineError) in
            try Self.seeds(logits, target, importanceOnly: importanceOnly)
        }
        return LossAndGradients(loss: made.loss, correct: made.correct, gradients: gradients[0], importanceGradients: gradients[gradients.count - 1])
    }

    /// Checks `logits` against `target` and computes the loss and the seeds: the exact
    /// gradient, then (with a teacher and draws) the importance gradient, or only the latter
    /// when `importanceOnly`.
    static func seeds(_ logits: Value, _ target: TrainingTarget, importanceOnly: Bool) throws(EngineError) -> LossSeeds {
        guard logits.dataType == .float, logits.shape.count == 2, logits.shape[0] > 0, logits.shape[1] > 0 else {
            throw .graph("logits \(logits.shape) of \(logits.dataType) are not [batch, classes] of float")
        }
        let rows = logits.shape[0], classes = logits.shape[1]
        guard target.labels != nil || target.teacher != nil else { throw .graph("a training target needs labels or teacher logits") }
        if let labels = target.labels {
            guard labels.count == rows else { throw .graph("logits \(logits.shape) do not fit \(labels.count) labels as [batch, classes]") }
            if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) { throw .graph("label \(bad) is outside 0..<\(classes)") }
        }
        if let teacher = target.teacher, teacher.shape != logits.shape || teacher.dataType != .float {
            throw .graph("teacher logits \(teacher.shape) do not match the logits \(logits.shape)")
        }
        if let draws = target.draws, draws.count != rows { throw .graph("\(draws.count) draws for \(rows) rows") }
        guard target.temperature > 0 && target.temperature.isFinite else { throw .graph("temperature \(target.temperature) is not positive") }

        let exact = Value(uninitialized: .float, shape: logits.shape)
        let sampled = target.teacher != nil && target.draws != nil ? Value(uninitialized: .float, shape: logits.shape) : nil
        var loss = 0.0, correct = 0
        logits.withElements(as: Float.self) { z in
            // Top-1 hits: against the labels, else agreement with the teacher.
            let reference: [Int] = target.labels?.map(Int.init) ?? target.teacher!.withElements(as: Float.self) { t in
                (0..<rows).map { argmax(t.baseAddress! + $0 * classes, classes) }
            }
            for r in 0..<rows where argmax(z.baseAddress! + r * classes, classes) == reference[r] { correct += 1 }
            exact.withMutableElements(as: Float.self) { g in
                if let labels = target.labels {
                    let l = labels.map(Int.init)
                    loss += Double(l.withUnsafeBufferPointer {
                        Softmax.crossEntropy(logits: z.baseAddress!, labels: $0.baseAddress!, rows: rows, cols: classes, gradient: g.baseAddress!)
                    })
                }
                guard let teacher = target.teacher else { return }
                let ce = target.labels == nil ? nil : Array(g)
                teacher.withElements(as: Float.self) { t in
                    func distill(_ draws: UnsafePointer<Double>?, _ sampledGradient: UnsafeMutablePointer<Float>?) -> Float {
                        Softmax.distillation(student: z.baseAddress!, teacher: t.baseAddress!, rows: rows, cols: classes, temperature: target.temperature,
                                             gradient: g.baseAddress!, draws: draws, sampledGradient: sampledGradient)
                    }
                    if let draws = target.draws, let sampled {
                        loss += Double(draws.withUnsafeBufferPointer { d in sampled.withMutableElements(as: Float.self) { distill(d.baseAddress!, $0.baseAddress!) } })
                    } else {
                        loss += Double(distill(nil, nil))
                    }
                }
                // The cross-entropy gradient adds to both distillation gradients.
                if let ce {
                    for i in g.indices { g[i] += ce[i] }
                    sampled?.withMutableElements(as: Float.self) { s in for i in s.indices { s[i] += ce[i] } }
                }
            }
        }
        let seeds = sampled.map { importanceOnly ? [$0] : [exact, $0] } ?? [exact]
        return LossSeeds(loss: loss, correct: correct, seeds: seeds)
    }
}

/// The first index of the largest of `count` floats.
private func argmax(_ x: UnsafePointer<Float>, _ count: Int) -> Int {
    var best = 0
    for c in 1..<count where x[c] > x[best] { best = c }
    return best
}
