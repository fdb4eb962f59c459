extension TrainingTarget {
    /// Rows `rows` of this target (a micro-batch of its batch).
    func rows(_ rows: Range<Int>) -> TrainingTarget {
        var part = self
        part.labels = labels.map { Array($0[rows]) }
        part.draws = draws.map { Array($0[rows]) }
        part.teacher = teacher.map { t in
            let classes = t.shape[1]
            return Value(shape: [rows.count, classes], floats: Array(t.floats[rows.lowerBound * classes ..< rows.upperBound * classes]))
        }
        return part
    }
}

extension Executor {
    /// The mean loss, top-1 hits and gradients w.r.t. `names` (each shaped like its entry in
    /// `parameters`) of training images `batch`, computed in micro-batches of
    /// `sharing.microBatch` shared over its ranks and added in micro-batch order, each weighted
    /// by its share of the batch: the same numbers on every rank, whatever the number of ranks.
    /// The batch's targets come from `targets` for the whole batch, so a micro-batch's draws
    /// are its rows of the batch's. Each rank reads only its micro-batches' images. Without
    /// `measuresImportance` (a training batch whose importance is not used) no draws are made
    /// and the one backward sweep gives the exact gradients, also returned as the importance ones.
    func sharedLossAndGradients(
        _ batch: ArraySlice<Int>, data: Preprocessor, targets: TrainingTargets, parameters: [String: Value], names: [String],
        importanceOnly: Bool, measuresImportance: Bool = true, sharing: WorkSharing
    ) throws(EngineError) -> LossAndGradients {
        let labels = batch.map { data.images.labels[$0] }
        var target = try targets.target(batch, labels: labels)
        // A training batch whose importance is not wanted takes only the exact gradient's sweep.
        let importanceOnly = importanceOnly || !measuresImportance
        if !measuresImportance { target.draws = nil }
        let size = max(1, sharing.microBatch)
        let units = (batch.count + size - 1) / size
        let counts = names.map { parameters[$0]?.count ?? 0 }
        // With `importanceOnly` one sweep gives both (`lossAndGradients`), so it is sent once.
        let sweeps = importanceOnly ? 1 : 2
        // Per micro-batch: loss, hits, then for the gradients (and the importance gradients) of
        // each name a presence flag and its elements.
        let parts = try sharing.shared(units: units, training: true) { (u: Int) throws(EngineError) -> [Double] in
            let rows = u * size ..< min((u + 1) * size, batch.count)
            let images = batch[(batch.startIndex + rows.lowerBound) ..< (batch.startIndex + rows.upperBound)]
            let (input, _) = data.inputBatch(images)
            let result = try lossAndGradients(input: input, target: target.rows(rows), parameters: parameters, importanceOnly: importanceOnly)
            var values: [Double] = [result.loss, Double(result.correct)]
            for gradients in [result.gradients, result.importanceGradients].prefix(sweeps) {
                for (name, count) in zip(names, counts) {
                    if let g = gradients[name], g.count == count {
                        values.append(1)
                        values += g.floats.map(Double.init)
                    } else {
                        values.append(0)
                        values += repeatElement(0, count: count)
                    }
                }
            }
            return values
        }
        var loss = 0.0, correct = 0
        var sums = (0 ..< sweeps * names.count).map { [Double](repeating: 0, count: counts[$0 % names.count]) }
        var present = [Bool](repeating: true, count: sums.count)
        for (u, part) in parts.enumerated() {
            let weight = Double(min((u + 1) * size, batch.count) - u * size) / Double(batch.count)
            loss += weight * part[0]
            correct += Int(part[1])
            var at = 2
            for i in sums.indices {
                present[i] = present[i] && part[at] != 0
                at += 1
                for j in sums[i].indices { sums[i][j] += weight * part[at + j] }
                at += sums[i].count
            }
        }
        var gradients: [String: Value] = [:], importance: [String: Value] = [:]
        for (k, name) in names.enumerated() {
            guard let shape = parameters[name]?.shape else { continue }
            if present[k] { gradients[name] = Value(shape: shape, floats: sums[k].map { Float($0) }) }
            let i = (sweeps - 1) * names.count + k
            if present[i] { importance[name] = sweeps == 1 ? gradients[name] : Value(shape: shape, floats: sums[i].map { Float($0) }) }
        }
        return LossAndGradients(loss: loss, correct: correct, gradients: gradients, importanceGradients: importance)
    }
}
