extension Executor {
    /// The mean of each channel (axis 1) of the values `names` over `indices` of `data` (and
    /// over positions), in a fixed order of summation: every rank computes it whole. The
    /// values must be graph outputs of this executor's model.
    public func channelMeans(of names: [String], data: Preprocessor, indices: [Int], batchSize: Int = 256,
                             parameters: [String: Value] = [:]) throws(EngineError) -> [String: [Double]] {
        guard let inputName = inputNames.first else { throw .graph("the model has no input") }
        var sums: [String: [Double]] = [:], counts: [String: Int] = [:]
        var plans: [[Int]: DNNLForward?] = [:]
        var begin = 0
        while begin < indices.count {
            let batch = Array(indices[begin..<min(begin + batchSize, indices.count)])
            begin += batch.count
            let (input, _) = data.inputBatch(batch[...])
            if plans[input.shape] == nil { plans[input.shape] = .some(oneDNNPlan(shape: input.shape, parameters: parameters)) }
            let outputs: [String: Value]
            if let plan = plans[input.shape]! { outputs = plan.run(input) } else { outputs = try run([inputName: input], parameters: parameters) }
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
