import BasisPrune
import Foundation
import TestSupport
import Testing

/// The oneDNN forward path (`DNNLForward`) against the engine's reference kernels: the same
/// logits on the real models and the pattern fixtures it covers, the reference kernels where
/// it does not, and the same validation results with trained scaling factors.
@Suite struct OneDNNTests {
    static func random(_ shape: [Int], seed: UInt64) -> Value {
        var r = SplitMix64(seed: seed)
        return Value(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in r.nextFloat() * 2 - 1 })
    }

    /// Runs `model` with both backends on a random batch; returns the largest difference
    /// relative to the largest reference logit, and why oneDNN refused (nil if it ran).
    static func compare(_ model: Model, input shape: [Int]) throws -> (difference: Float, refusal: String?) {
        let fast = try Executor(model: model), reference = try Executor(model: model, backend: .reference)
        let input = random(shape, seed: 3)
        let a = try fast.run([fast.inputNames[0]: input])[fast.outputNames[0]]!.floats
        let b = try reference.run([reference.inputNames[0]: input])[reference.outputNames[0]]!.floats
        #expect(a.count == b.count)
        let scale = max(b.map(abs).max() ?? 0, 1)
        return ((zip(a, b).map { abs($0 - $1) }.max() ?? 0) / scale, fast.oneDNNRefusal)
    }

    /// The exported file runs on oneDNN too: the executor compiles its simplified graph.
    @Test(arguments: [1, 7])
    func exportedSimplifiedAndSplitModelsMatchTheReference(batch: Int) throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let simplified = try Simplify.run(model).model
        for (name, m) in [("as exported", model), ("simplified", simplified), ("split", try Pipeline.split(simplified).model)] {
            let (difference, refusal) = try Self.compare(m, input: [batch, 3, 32, 32])
            #expect(refusal == nil, "\(name): \(refusal ?? "")")
            #expect(difference < 1e-5, "\(name): relative difference \(difference)")
        }
    }

    @Test func imagenetModelMatchesTheReference() throws {
        let model = try Simplify.run(try ONNXImporter.load(path: Fixtures.imagenetModel)).model
        let (difference, refusal) = try Self.compare(model, input: [2, 3, 224, 224])
        #expect(refusal == nil, "\(refusal ?? "")")
        #expect(difference < 1e-5, "relative difference \(difference)")
    }

    /// Every pattern fixture either runs on oneDNN with the reference's logits or is refused
    /// with the node that is not covered (and then runs on the reference kernels).
    @Test(arguments: ["residual", "concat", "squeeze_excite", "shuffle", "convnext", "convnext_dynamo", "reducemean_pool", "identity_weights"])
    func patternsMatchOrAreRefused(_ name: String) throws {
        let model = try Simplify.run(try ONNXImporter.load(path: Fixtures.repositoryRoot + "/fixtures/patterns/\(name).onnx")).model
        let (difference, refusal) = try Self.compare(model, input: [4, 3, 32, 32])
        print("\(name): \(refusal.map { "refused: \($0)" } ?? "oneDNN, relative difference \(difference)")")
        #expect(difference < 1e-5, "relative difference \(difference)")
        let covered = ["residual", "concat", "reducemean_pool", "identity_weights"]
        // Not covered: HardSigmoid (squeeze_excite), Split (shuffle), Transpose (convnext).
        if covered.contains(name) { #expect(refusal == nil, "\(refusal ?? "")") }
        if name.hasPrefix("convnext") { #expect(refusal?.contains("is not covered") == true, "\(refusal ?? "none")") }
    }

    /// Validation with trained factors (some bases removed) gives the same per-image results
    /// and loss on both backends.
    @Test func evaluationWithScalingFactorsMatches() throws {
        let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model)
        var r = SplitMix64(seed: 9)
        var parameters: [String: Value] = [:]
        let initializers = model.graph.initializersByName
        for layer in layers {
            // Factors near 1, each layer's last basis (smallest singular value) removed.
            let shape = initializers[layer.factors]!.dims
            parameters[layer.factors] = Value(shape: shape, floats: (0..<layer.rank).map { i in
                i == layer.rank - 1 ? 0 : 0.98 + 0.04 * r.nextFloat()
            })
        }
        let data = try Preprocessor(images: DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test,range=0:300").load(), preprocessing: .sharedModels)
        let indices = Array(0..<300)
        let executor = try Executor(model: model)
        let fast = try executor.evaluate(data, indices: indices, batchSize: 128, parameters: parameters)
        #expect(executor.oneDNNRefusal == nil, "\(executor.oneDNNRefusal ?? "")")
        let reference = try Executor(model: model, backend: .reference).evaluate(data, indices: indices, batchSize: 128, parameters: parameters)
        #expect(fast.correctness == reference.correctness)
        #expect(abs(fast.loss - reference.loss) < 1e-5, "\(fast.loss) vs \(reference.loss)")
        let plain = try Executor(model: model).evaluate(data, indices: indices, batchSize: 128)
        print("accuracy with factors \(fast.accuracy), without \(plain.accuracy)")
        #expect(fast.accuracy > 0.5)
    }
}
