extension Executor {
    /// The mean of each channel (axis 1) of the values `names` over `indices` of `data` (and
    /// over positions), in a fixed order of summation: every rank computes it whole. The
    /// values must be graph outputs of this executor's model.
    ///
    /// Memory is bounded: the first image runs alone to measure what the values take per image,
    /// then every batch holds at most `memoryBudget` bytes of them (at most `batchSize` images).
    /// The batch size is a function of the model and the budget, never of the machine.
    public func channelMeans(of names: [String], data: Preprocessor, indices: [Int], batchSize: Int = 256,
                             memoryBudget: Int = 1 << 30,
                             parameters: [String: Value] = [:]) throws(EngineError) -> [String: [Double]] {
        guard let inputName = inputNames.first else { throw .graph("the model has no input") }
        var sums: [String: [Double]] = [:], counts: [String: Int] = [:]
        var plan: (shape: [Int], plan: DNNLForward?)? = nil
        var begin = 0, size = 1, sized = false
        while begin < indices.count {
            let batch = Array(indices[begin..<min(begin + size, indices.count)])
            begin += batch.count
            let (input, _) = data.inputBatch(batch[...])
            if plan?.shape != input.shape {
                plan = nil
                plan = (input.shape, oneDNNPlan(shape: input.shape, parameters: parameters))
            }
            let outputs: [String: Value]
            if let dnnl = plan?.plan { outputs = dnnl.run(input) } else { outputs = try run([inputName: input], parameters: parameters) }
            if !sized {
                // The first image only measures the values' size; the sums start over at the
                // chosen batch size, so a model that fits runs the batches it always ran.
                let bytes = names.reduce(0) { $0 + (outputs[$1].map { $0.shape.reduce(1, *) * 4 } ?? 0) }
                size = max(1, min(batchSize, memoryBudget / max(bytes, 1)))
                sized = true
                begin = 0
                continue
            }
            for name in names {
                guard let value = outputs[name], value.shape.count >= 2 else { throw .graph("value '\(name)' missing or not [batch, channels, ...]") }
                let channels = value.shape[1], inner = value.shape.dropFirst(2).reduce(1, *)
                var sum = sums[name] ?? [Double](repeating: 0, count: channels)
                value.withElements(as: Float.self) { x in
                    for n in 0..<value.shape[0] {
                        for c in 0..<channels {
                            let start = (n * channels + c) * inner
                            var s = 0.0
                            for v in x[start..<(start + inner)] { s += Double(v) }
                            sum[c] += s
                        }
                    }
                }
                sums[name] = sum
                counts[name, default: 0] += value.shape[0] * inner
            }
        }
        var means: [String: [Double]] = [:]
        for (name, sum) in sums { means[name] = sum.map { $0 / Double(max(counts[name] ?? 1, 1)) } }
        return means
    }
}
