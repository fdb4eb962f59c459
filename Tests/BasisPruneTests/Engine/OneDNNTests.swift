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

    /// The graph `b` holds, reading "x" of `shape` and writing "logits", as an opset-13 model.
    static func model(_ b: GraphBuilder, input shape: [Int]) -> Model {
        let type = TypeInfo(tensor: TypeInfo.TensorType(elementType: DataType.float.rawValue, shape: shape.map { Dimension(.known(Int64($0))) }))
        let graph = Graph(name: "g", nodes: b.nodes, initializers: b.initializers, inputs: [ValueInfo(name: "x", type: type)],
                          outputs: [ValueInfo(name: "logits", type: nil)])
        return Model(irVersion: 8, opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph)
    }

    /// oneDNN covers `model` and gives the reference kernels' logits (1e-5 relative).
    static func expectSameLogits(_ model: Model, input shape: [Int]) throws {
        let (difference, refusal) = try compare(model, input: shape)
        #expect(refusal == nil, "\(refusal ?? "")")
        #expect(difference < 1e-5, "relative difference \(difference)")
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

    /// 1x1 convs on a 1x1 plane: at batch 1 the plan runs them with its own matrix-vector loop
    /// (`cdnnl_gemv`), rows and columns that are not multiples of its 4 rows and 8 columns
    /// included, with a fused Clip, a fused Relu and none; at batch 3 the matrix-product kernel
    /// (`cdnnl_dense`: a partial tile of rows, partial panels of outputs).
    @Test(arguments: [1, 3])
    func denseConvsOnOnePositionMatchTheReference(batch: Int) throws {
        var b = GraphBuilder(random: SeededRandom(seed: 5))
        b.initializers.append(Tensor(name: "zero", dims: [], floats: [0]))
        b.initializers.append(Tensor(name: "six", dims: [], floats: [6]))
        let a = b.node("Conv", ["x", b.weight("w1", [7, 13, 1, 1]), b.weight("b1", [7])], "a")
        let clipped = b.node("Clip", [a, "zero", "six"], "clipped")
        let c = b.node("Conv", [clipped, b.weight("w2", [37, 7, 1, 1])], "c")
        let r = b.node("Relu", [c], "r")
        let d = b.node("Conv", [r, b.weight("w3", [16, 37, 1, 1]), b.weight("b3", [16])], "d")
        let flat = b.node("Flatten", [d], "flat")
        _ = b.node("Gemm", [flat, b.weight("hw", [5, 16]), b.weight("hb", [5])], "logits", ["transB": .int(1)])
        try Self.expectSameLogits(Self.model(b, input: [batch, 13, 1, 1]), input: [batch, 13, 1, 1])
    }

    /// A conv whose kernel covers its whole 3x3 input (a matrix product over rows of C x H x W,
    /// read in plain layout), scaled by a trained factor and followed by a Relu and the head:
    /// logits and the factor's gradient equal the reference kernels' at a batch that leaves a
    /// partial tile of rows.
    @Test func denseConvOverAWholePlaneMatchesTheReference() throws {
        var b = GraphBuilder(random: SeededRandom(seed: 9))
        b.initializers.append(Tensor(name: "s", dims: [1, 5, 1, 1], floats: [1, 0.9, 1.1, 0.8, 1.2]))
        let xs = b.node("Mul", ["x", "s"], "xs")
        let c = b.node("Conv", [xs, b.weight("w", [21, 5, 3, 3]), b.weight("cb", [21])], "c")
        let r = b.node("Relu", [c], "r")
        let flat = b.node("Flatten", [r], "flat")
        _ = b.node("Gemm", [flat, b.weight("hw", [21, 4]), b.weight("hb", [4])], "logits")
        let batch = 7
        let model = Self.model(b, input: [batch, 5, 3, 3])
        try Self.expectSameLogits(model, input: [batch, 5, 3, 3])
        try Self.expectSameTraining(model, parameters: ["s": Value(shape: [1, 5, 1, 1], floats: [1, 0.7, 1.2, 0.9, 1.1])],
                                    input: [batch, 5, 3, 3], target: TrainingTarget(labels: [0, 1, 2, 3, 0, 1, 2]))
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
        // Not covered: HardSigmoid (squeeze_excite), Split (shuffle); in convnext, once its blocks are
        // 1x1 convs (`ChannelsLastToConv`), its LayerNorm written out with ReduceMean over channels,
        // and in both the head's LayerNorm on [N, C] after a ReduceMean without keepdims.
        if covered.contains(name) { #expect(refusal == nil, "\(refusal ?? "")") }
        if name.hasPrefix("convnext") { #expect(refusal?.contains("ReduceMean") == true, "\(refusal ?? "none")") }
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

    // MARK: - training (DNNLBackward.swift)

    /// Factors near 1 with each layer's last basis removed.
    static func factors(_ model: Model, _ layers: [SplitLayer], seed: UInt64) -> [String: Value] {
        var r = SplitMix64(seed: seed)
        let initializers = model.graph.initializersByName
        var parameters: [String: Value] = [:]
        for layer in layers {
            parameters[layer.factors] = Value(shape: initializers[layer.factors]!.dims, floats: (0..<layer.rank).map { i in
                i == layer.rank - 1 ? 0 : 0.9 + 0.2 * r.nextFloat()
            })
        }
        return parameters
    }

    /// One training batch with both backends: the same loss and hits, and every parameter's
    /// gradient (each sweep's) equal to `tolerance` relative to the largest reference entry.
    static func expectSameTraining(_ model: Model, parameters: [String: Value], input shape: [Int], target: TrainingTarget,
                                   tolerance: Float = 1e-4) throws {
        let fast = try Executor(model: model), reference = try Executor(model: model, backend: .reference)
        let input = random(shape, seed: 5)
        let a = try fast.lossAndGradients(input: input, target: target, parameters: parameters)
        #expect(fast.oneDNNTrainingRefusal == nil, "\(fast.oneDNNTrainingRefusal ?? "")")
        let b = try reference.lossAndGradients(input: input, target: target, parameters: parameters)
        #expect(abs(a.loss - b.loss) <= 1e-5 * max(abs(b.loss), 1), "loss \(a.loss) against \(b.loss)")
        #expect(a.correct == b.correct)
        for (mine, theirs) in [(a.gradients, b.gradients), (a.importanceGradients, b.importanceGradients)] {
            #expect(Set(mine.keys) == Set(parameters.keys))
            let scale = theirs.values.flatMap { $0.floats.map(abs) }.max() ?? 0
            #expect(scale > 0)
            var worst: (Float, String) = (0, "")
            for (name, g) in theirs {
                let f = try #require(mine[name])
                #expect(f.shape == g.shape, "\(name)")
                let d = zip(f.floats, g.floats).map { abs($0 - $1) }.max() ?? 0
                if d > worst.0 { worst = (d, name) }
            }
            print("largest gradient difference \(worst.0 / scale) of the largest entry (\(worst.1))")
            #expect(worst.0 <= tolerance * scale, "\(worst.1): \(worst.0) against largest \(scale)")
        }
    }

    /// Factor gradients of the split model on oneDNN equal the reference kernels', with
    /// labels and with distillation (two sweeps: exact and sampled).
    @Test(arguments: [1, 6])
    func factorGradientsMatchTheReference(batch: Int) throws {
        let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model)
        let parameters = Self.factors(model, layers, seed: 11)
        let labels = (0..<batch).map { Int32($0 * 3 % 10) }
        try Self.expectSameTraining(model, parameters: parameters, input: [batch, 3, 32, 32], target: TrainingTarget(labels: labels))
        var r = SplitMix64(seed: 2)
        let teacher = Value(shape: [batch, 10], floats: (0..<(batch * 10)).map { _ in r.nextFloat() * 6 - 3 })
        let draws = (0..<batch).map { _ in Double(r.nextFloat()) }
        try Self.expectSameTraining(model, parameters: parameters, input: [batch, 3, 32, 32],
                                    target: TrainingTarget(labels: labels, teacher: teacher, temperature: 4, draws: draws))
    }

    /// The plan's results do not depend on the thread count, bit for bit: logits, loss, and
    /// every factor's gradient of both sweeps (labels plus distillation) at 1 and 2 threads.
    /// (oneDNN's inner product split some sums across threads, so the main job's output changed
    /// with `--threads`; the matrix products run on `cdnnl_dense` now.)
    @Test func resultsDoNotDependOnTheThreadCount() throws {
        let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model)
        let parameters = Self.factors(model, layers, seed: 11)
        let batch = 64
        let input = Self.random([batch, 3, 32, 32], seed: 5)
        var r = SplitMix64(seed: 2)
        let target = TrainingTarget(labels: (0..<batch).map { Int32($0 * 3 % 10) },
                                    teacher: Value(shape: [batch, 10], floats: (0..<(batch * 10)).map { _ in r.nextFloat() * 6 - 3 }),
                                    temperature: 4, draws: (0..<batch).map { _ in Double(r.nextFloat()) })
        let previous = ComputeThreads.current
        defer { ComputeThreads.set(previous) }
        var results: [[String: [Float]]] = []
        for threads in [1, 2] {
            ComputeThreads.set(threads)
            let executor = try Executor(model: model)
            var values = ["logits": try executor.run([executor.inputNames[0]: input])[executor.outputNames[0]]!.floats]
            let step = try executor.lossAndGradients(input: input, target: target, parameters: parameters)
            #expect(executor.oneDNNRefusal == nil && executor.oneDNNTrainingRefusal == nil)
            values["loss"] = [Float(step.loss)]
            for (name, g) in step.gradients { values["gradient " + name] = g.floats }
            for (name, g) in step.importanceGradients { values["importance " + name] = g.floats }
            results.append(values)
        }
        #expect(results[0].count == 2 + 2 * layers.count)
        for (name, value) in results[0].sorted(by: { $0.key < $1.key }) {
            #expect(results[1][name] == value, "\(name) differs between 1 and 2 threads")
        }
    }

    /// Filter pruning's mask gradients (some groups masked) on oneDNN equal the reference's.
    @Test func maskGradientsMatchTheReference() throws {
        var model = try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model
        model.graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: model.graph, opset: model.defaultOpsetVersion!)
        let (masked, masks) = ChannelPruning.insertMasks(model.graph, analysis)
        model.graph = masked
        let removed = Set(stride(from: 0, to: analysis.groups.count, by: 7))
        let parameters = ChannelPruning.maskValues(masks, analysis, removed: removed)
        try Self.expectSameTraining(model, parameters: parameters, input: [4, 3, 32, 32], target: TrainingTarget(labels: [1, 5, 7, 9]))
    }

    /// The ImageNet model's factor gradients at 224x224.
    @Test func imagenetFactorGradientsMatchTheReference() throws {
        let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: Fixtures.imagenetModel)).model)
        try Self.expectSameTraining(model, parameters: Self.factors(model, layers, seed: 4), input: [2, 3, 224, 224],
                                    target: TrainingTarget(labels: [3, 999]))
    }

    /// The oneDNN path's own gradients against central differences of its own loss, for the
    /// largest factor gradient of several layers (fused activations, blocked layout, the head).
    @Test func factorGradientsMatchFiniteDifferences() throws {
        let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model)
        let executor = try Executor(model: model)
        let parameters = Self.factors(model, layers, seed: 5)
        let input = Self.random([2, 3, 32, 32], seed: 8)
        let target = TrainingTarget(labels: [2, 7])
        let at = try executor.lossAndGradients(input: input, target: target, parameters: parameters)
        #expect(executor.oneDNNTrainingRefusal == nil)
        for layer in [layers[0], layers[layers.count / 2], layers[layers.count - 2], layers[layers.count - 1]] {
            let g = at.gradients[layer.factors]!.floats
            let i = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
            let h: Float = 1e-3
            var losses: [Double] = []
            for sign: Float in [1, -1] {
                var moved = parameters
                var values = moved[layer.factors]!.floats
                values[i] += sign * h
                moved[layer.factors] = Value(shape: moved[layer.factors]!.shape, floats: values)
                losses.append(try executor.lossAndGradients(input: input, target: target, parameters: moved).loss)
            }
            let numeric = (losses[0] - losses[1]) / Double(2 * h)
            print("\(layer.factors)[\(i)]: gradient \(g[i]), central difference \(numeric)")
            #expect(abs(numeric - Double(g[i])) <= 0.02 * abs(Double(g[i])) + 1e-4, "\(layer.factors)[\(i)]: \(g[i]) against \(numeric)")
        }
    }
}

