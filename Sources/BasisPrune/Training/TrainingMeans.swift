/// Channel means of intermediate values over training images, for mean replacement.
enum TrainingMeans {
    /// The channel means of the values `names` of `model` (made graph outputs for the pass)
    /// over the first `options.retrainImages` of `trainIndices` shuffled by the seed and `stream`.
    static func of(_ names: [String], in model: Model, train: Preprocessor, trainIndices: [Int], options: PruningOptions,
                   stream: UInt64) throws(EngineError) -> [String: [Double]] {
        var probe = model
        probe.graph.outputs += names.map { ValueInfo(name: $0, type: nil) }
        var random = SeededRandom(seed: options.seed, stream: stream)
        var order = trainIndices
        order.seededShuffle(using: &random)
        return try Executor(model: probe).channelMeans(of: names, data: train, indices: Array(order.prefix(options.retrainImages)),
                                                      batchSize: options.evaluationBatch, memoryBudget: options.memory?.meansBytes ?? 1 << 30)
    }
}
