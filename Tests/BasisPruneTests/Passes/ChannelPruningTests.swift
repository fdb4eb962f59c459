import BasisPrune
import Foundation
import TestSupport
import Testing

@Suite struct ChannelPruningTests {
    /// The groups found for fmnist-lite0-32.onnx, checked against EfficientNet-Lite0's blocks:
    /// a stem space (stem conv, then block 0's depthwise conv), one expansion space per block
    /// 1-15 (expand conv, then that block's depthwise conv, read by its project conv), one
    /// space per stage joined by the residual Adds (project convs of blocks {0}, {1,2}, {3,4},
    /// {5,6,7}, {8,9,10}, {11..14}, {15}), the head conv read by the Gemm, and the blocked
    /// input and logits.
    @Test func fmnistGroupsFollowTheBlocks() throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: graph, opset: model.defaultOpsetVersion!)
        print(analysis.describe(graph))
        let name = { (n: Int) in graph.nodes[n].displayName }
        #expect(analysis.spaces.count == 26)
        #expect(analysis.spaces.filter { $0.blocked != nil }.count == 2)
        let blocked = analysis.spaces.compactMap(\.blocked).sorted()
        #expect(blocked == ["graph input 'input'", "graph output 'logits'"])
        // Stage spaces: the project convs each residual Add joins.
        let stages = analysis.spaces.filter { $0.producers.contains { name($0).hasSuffix("_project_conv/Conv") } }
        let blocksPerStage = stages.map { s in s.producers.map { name($0).split(separator: "/")[0].split(separator: ".")[1] }.map { Int($0)! } }
        #expect(blocksPerStage == [[0], [1, 2], [3, 4], [5, 6, 7], [8, 9, 10], [11, 12, 13, 14], [15]])
        // Each stage space is read by the next blocks' expand convs (and the head conv at the end).
        for (s, blocks) in zip(stages, blocksPerStage) {
            let readers = s.sinks.map { name($0.node) }
            let expected = blocks.map { $0 + 1 }.filter { $0 <= 15 }.map { "/_blocks.\($0)/_expand_conv/Conv" }
            #expect(readers == (blocks.last == 15 ? ["/_conv_head/Conv"] : expected), "\(readers)")
        }
        // Expansion spaces: block b's expand conv, through its depthwise conv, read by its project conv.
        for b in 1...15 {
            let s = try #require(analysis.spaces.first { $0.producers.map(name) == ["/_blocks.\(b)/_expand_conv/Conv"] })
            #expect(s.channelwise.map(name) == ["/_blocks.\(b)/_depthwise_conv/Conv"])
            #expect(s.sinks.map { name($0.node) } == ["/_blocks.\(b)/_project_conv/Conv"])
            #expect(s.blocked == nil && analysis.fixedChannels[analysis.spaces.firstIndex { $0.producers == s.producers }!] == 0)
        }
        let stem = try #require(analysis.spaces.first { $0.producers.map(name) == ["/_conv_stem/Conv"] })
        #expect(stem.channelwise.map(name) == ["/_blocks.0/_depthwise_conv/Conv"] && stem.channels == 32)
        let head = try #require(analysis.spaces.first { $0.producers.map(name) == ["/_conv_head/Conv"] })
        #expect(head.sinks.map { graph.nodes[$0.node].opType } == ["Gemm"] && head.channels == 1280)
        // Every channel of every unblocked space is a group of its own (there is no Concat).
        let removable = analysis.spaces.filter { $0.blocked == nil }.reduce(0) { $0 + $1.channels }
        #expect(analysis.groups.count == removable)
        #expect(analysis.groups.allSatisfy { $0.count == 1 })
    }

    /// A synthetic graph with a BatchNormalization, a residual Add, a depthwise conv, a
    /// Concat joined by a second Add, a per-channel constant and a Gemm head: removing groups
    /// gives the masked graph's outputs in the engine and in onnxruntime, and the checker
    /// accepts the file.
    @Test func syntheticGraphPrunesConsistently() throws {
        var b = GraphBuilder(random: SeededRandom(seed: 5))
        let pads: Attribute.Value = .ints([1, 1, 1, 1])
        var x = b.node("Conv", ["x", b.weight("stem.w", [8, 3, 3, 3]), b.weight("stem.b", [8])], "stem", ["pads": pads])
        x = b.node("BatchNormalization", [x, b.weight("bn.g", [8], scale: 2), b.weight("bn.b", [8]), b.weight("bn.m", [8]),
                                          b.initializerOnes("bn.v", [8])], "bn")
        let a = b.node("Relu", [x], "a")
        let b1 = b.node("Conv", [a, b.weight("b1.w", [8, 8, 1, 1]), b.weight("b1.b", [8])], "b1")
        let r1 = b.node("Add", [a, b1], "r1")
        var d = b.node("Conv", [r1, b.weight("dw.w", [8, 1, 3, 3]), b.weight("dw.b", [8])], "dw", ["group": .int(8), "pads": pads])
        d = b.node("Clip", [d, b.scalar("lo", 0), b.scalar("hi", 6)], "d")
        let e = b.node("Conv", [d, b.weight("e.w", [6, 8, 1, 1]), b.weight("e.b", [6])], "e")
        let f = b.node("Conv", [r1, b.weight("f.w", [4, 8, 3, 3])], "f", ["pads": pads])
        let cat = b.node("Concat", [e, f], "cat", ["axis": .int(1)])
        let scaled = b.node("Mul", [cat, b.weight("cat.scale", [1, 10, 1, 1], scale: 2)], "scaled")
        let g = b.node("Conv", [r1, b.weight("g.w", [10, 8, 1, 1])], "g")
        let joined = b.node("Add", [scaled, g], "joined")
        let pooled = b.node("GlobalAveragePool", [b.node("MaxPool", [joined], "pool", ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])], "gap")
        let flat = b.node("Flatten", [pooled], "flat", ["axis": .int(1)])
        _ = b.node("Gemm", [flat, b.weight("fc.w", [5, 10]), b.weight("fc.b", [5])], "logits", ["transB": .int(1)])
        let type = TypeInfo(tensor: TypeInfo.TensorType(elementType: DataType.float.rawValue, shape: [4, 3, 8, 8].map { Dimension(.known(Int64($0))) }))
        let graph = Graph(name: "synthetic", nodes: b.nodes, initializers: b.initializers, inputs: [ValueInfo(name: "x", type: type)],
                          outputs: [ValueInfo(name: "logits", type: TypeInfo(tensor: TypeInfo.TensorType(elementType: DataType.float.rawValue, shape: [Dimension(.known(4)), Dimension(.known(5))])))])
        let model = Model(irVersion: 8, opsetImports: [OpsetImport(domain: "", version: 17)], graph: graph)

        let analysis = try ChannelDependency(graph: graph, opset: 17)
        print(analysis.describe(graph))
        // 8 groups for the residual space (stem, b1, the Add, the depthwise conv), 10 for the
        // Concat space (each a channel of e or f and that channel of the Concat and g).
        #expect(analysis.groups.count == 18)
        #expect(analysis.groups.filter { $0.count == 1 }.count == 8)
        #expect(analysis.groups.filter { $0.count == 2 }.count == 10)

        var random = SplitMix64(seed: 3)
        let input = Value(shape: [4, 3, 8, 8], floats: (0..<(4 * 3 * 64)).map { _ in random.nextFloat() })
        let removed: Set<Int> = [1, 4, 6, 8, 10, 13, 15]
        let (masked, masks) = ChannelPruning.insertMasks(graph, analysis)
        var maskedModel = model
        maskedModel.graph = masked
        let expected = try #require(try Executor(model: maskedModel).run(["x": input], parameters: ChannelPruning.maskValues(masks, analysis, removed: removed))["logits"])
        var pruned = model
        pruned.graph = try ChannelPruning.remove(graph, analysis, removed: removed)
        let ours = try #require(try Executor(model: pruned).run(["x": input])["logits"])
        #expect(maxAbsDifference(ours.floats, expected.floats) < 1e-5)
        let unpruned = try #require(try Executor(model: model).run(["x": input])["logits"])
        #expect(maxAbsDifference(unpruned.floats, expected.floats) > 1e-3, "removing channels changes the outputs")

        let weights = pruned.graph.initializersByName
        let depthwise = try #require(pruned.graph.nodes.first { $0.name == "dw" })
        #expect(depthwise.int("group") == 5 && weights[depthwise.inputs[1]]?.dims == [5, 1, 3, 3])
        #expect(weights[pruned.graph.nodes.first { $0.name == "logits" }!.inputs[1]]?.dims == [5, 6])
        #expect(weights[pruned.graph.nodes.first { $0.name == "bn" }!.inputs[1]]?.dims == [5])
        #expect(ChannelPruning.layerParameters(graph, analysis, removed: removed) == (try GraphSummary(model: pruned)).layerParameters)

        try Self.expectRemovalMatchesMasking(model, analysis, removed: removed, pruned: pruned.graph, input: input)
    }

    /// `pruned` (the graph of `model` with `removed` groups removed), written to a file, passes
    /// the checker and gives in onnxruntime what the engine gives for `model` with them masked.
    static func expectRemovalMatchesMasking(_ model: Model, _ analysis: ChannelDependency, removed: Set<Int>, pruned: Graph, input: Value) throws {
        let (masked, masks) = ChannelPruning.insertMasks(model.graph, analysis)
        var maskedModel = model
        maskedModel.graph = masked
        let inputName = model.graph.inputs[0].name, outputName = model.graph.outputs[0].name
        let expected = try #require(try Executor(model: maskedModel).run([inputName: input], parameters: ChannelPruning.maskValues(masks, analysis, removed: removed))[outputName])
        var prunedModel = model
        prunedModel.graph = pruned
        let out = Fixtures.temporaryDirectory("channels") + "/pruned.onnx"
        try ONNXExporter.write(prunedModel, to: out)
        let checked = try runJudge("check_model.py", [out]) as! [String: String]
        #expect(checked[out] == "ok")
        let theirs = try ONNXRuntimeJudge.run(model: out, input: input)
        #expect(maxAbsDifference(theirs.floats, expected.floats) < 1e-5)
    }

    /// ShuffleNetV2 units (fixtures/patterns/shuffle.onnx): the analysis follows the channels
    /// through Split and the channel shuffle, so the stem's and the shuffled spaces are
    /// removable; a third of the groups removed gives the masked model's logits in the engine
    /// and in onnxruntime, with the Split sizes and shuffle shapes rewritten.
    @Test func shuffleAndSplitRemovalEqualsMasking() throws {
        let model = try ONNXImporter.load(path: Fixtures.repositoryRoot + "/fixtures/patterns/shuffle.onnx")
        let graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: graph, opset: model.defaultOpsetVersion!)
        print(analysis.describe(graph))
        let unprunable = analysis.unprunableLayers(graph).map { "\($0.node.displayName): \($0.reason)" }
        print(unprunable.joined(separator: "\n"))
        // Only the grouped conv, the 1x1 conv it reads (a grouped conv blocks its input) and
        // the head (graph output) keep all their channels.
        #expect(Set(analysis.unprunableLayers(graph).map(\.node.displayName)) == ["final", "grouped", "logits"])
        // A shuffle ties channel i of both halves: groups span several spaces.
        #expect(analysis.groups.contains { Set($0.map(\.space)).count >= 4 })
        var removed = Set(analysis.groups.indices.filter { $0 % 3 == 1 })
        let channels = analysis.removedChannels(removed)
        for (n, space) in analysis.spaces.enumerated() where channels[n].count >= space.channels {
            removed.subtract(removed.filter { g in analysis.groups[g].contains { $0.space == n } }.prefix(1))
        }
        let (masked, masks) = ChannelPruning.insertMasks(graph, analysis)
        var maskedModel = model
        maskedModel.graph = masked
        var random = SplitMix64(seed: 5)
        let input = Value(shape: [4, 3, 32, 32], floats: (0..<(4 * 3 * 1024)).map { _ in random.nextFloat() })
        let expected = try #require(try Executor(model: maskedModel).run(["input": input], parameters: ChannelPruning.maskValues(masks, analysis, removed: removed))["logits"])
        var pruned = model
        pruned.graph = try ChannelPruning.remove(graph, analysis, removed: removed)
        let ours = try #require(try Executor(model: pruned).run(["input": input])["logits"])
        #expect(maxAbsDifference(ours.floats, expected.floats) < 1e-5)
        let unpruned = try #require(try Executor(model: model).run(["input": input])["logits"])
        #expect(maxAbsDifference(unpruned.floats, expected.floats) > 1e-3, "removing channels changes the outputs")
        let shapes = pruned.graph.nodes.filter { $0.opType == "Reshape" }.compactMap { pruned.graph.initializersByName[$0.inputs[1]]?.doubleValues() }
        print("removed \(removed.count) of \(analysis.groups.count) groups; reshape targets \(shapes)")
        #expect(shapes.contains { $0.count == 5 && $0[2] < 8 }, "a shuffle's [N, g, C/g, H, W] shrank")
        #expect(ChannelPruning.layerParameters(graph, analysis, removed: removed) == (try GraphSummary(model: pruned)).layerParameters)

        let out = Fixtures.temporaryDirectory("channels") + "/shuffle-pruned.onnx"
        try ONNXExporter.write(pruned, to: out)
        let checked = try runJudge("check_model.py", [out]) as! [String: String]
        #expect(checked[out] == "ok")
        let theirs = try ONNXRuntimeJudge.run(model: out, input: input)
        #expect(maxAbsDifference(theirs.floats, expected.floats) < 1e-5)
    }

    /// The filter search's validation graph (`MaskFolding`: the masks multiplied into the
    /// weights of the layers reading them) gives the masked graph's numbers bit for bit on
    /// the oneDNN path, with every mask of the real model folded and its Mul gone.
    @Test func foldedMasksGiveTheMaskedNumbers() throws {
        var model = try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model
        model.graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: model.graph, opset: model.defaultOpsetVersion!)
        let (masked, masks) = ChannelPruning.insertMasks(model.graph, analysis)
        let folding = ChannelPruning.MaskFolding(masked: masked, masks: masks)
        let maskNames = Set(masks.map(\.initializer))
        #expect(!masks.isEmpty)
        #expect(!folding.graph.nodes.contains { $0.inputs.contains(where: maskNames.contains) })
        #expect(folding.graph.nodes.count == masked.nodes.count - masks.count)
        var maskedModel = model, foldedModel = model
        maskedModel.graph = masked
        foldedModel.graph = folding.graph
        let images = try DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test,range=0:300").load()
        let data = try Preprocessor(images: images, preprocessing: Preprocessing(height: 32, width: 32))
        var random = SplitMix64(seed: 12)
        for share: Float in [0, 0.3] {
            let removed = Set(analysis.groups.indices.filter { _ in (random.nextFloat() + 1) / 2 < share })
            let values = ChannelPruning.maskValues(masks, analysis, removed: removed)
            let expected = try Executor(model: maskedModel).evaluate(data, indices: Array(0..<300), batchSize: 128, parameters: values)
            let folded = try Executor(model: foldedModel).evaluate(data, indices: Array(0..<300), batchSize: 128, parameters: folding.parameters(values))
            #expect(folded.loss == expected.loss, "\(removed.count) groups removed")
            #expect(folded.correctness == expected.correctness)
        }
    }

    /// Mean replacement on the real model, with the channel means of 300 Fashion-MNIST images:
    /// with a quarter of the groups removed, the centred masked graph, its folded form and the
    /// file `remove` writes with the means (judged by the checker and onnxruntime) give the
    /// same logits, which differ from those of the same removal without the means.
    @Test func centredMasksLeaveTheMeansInTheBiases() throws {
        var model = try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model
        model.graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: model.graph, opset: model.defaultOpsetVersion!)
        let images = try DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test,range=0:300").load()
        let data = try Preprocessor(images: images, preprocessing: Preprocessing(height: 32, width: 32))
        var options = PruningOptions()
        options.retrainImages = 300
        let means = try FilterSearch.channelMeans(model.graph, model: model, analysis: analysis, train: data, trainIndices: Array(0..<300), options: options)
        let (masked, masks) = ChannelPruning.insertMasks(model.graph, analysis, means: means)
        let centred = masks.filter { $0.mean != nil }
        let centredCount = centred.count, maskCount = masks.count
        print("fmnist: \(centredCount) of \(maskCount) masks centred")
        #expect(centredCount > maskCount / 2, "\(centredCount) of \(maskCount) masks centred")
        // Real means: many channels' far from 0 (after a Clip they are all at or above it).
        #expect(means.values.reduce(0) { $0 + $1.filter { abs($0) > 0.1 }.count } > 100)
        let folding = ChannelPruning.MaskFolding(masked: masked, masks: masks)
        let maskNames = Set(masks.map { $0.initializer })
        #expect(!folding.graph.nodes.contains { node in node.inputs.contains(where: maskNames.contains) })
        var random = SplitMix64(seed: 9)
        let removed = Set(analysis.groups.indices.filter { _ in random.nextFloat() < -0.5 })
        let values = ChannelPruning.maskValues(masks, analysis, removed: removed)
        let (input, _) = try fashionMNISTBatch(count: 64)
        var maskedModel = model, foldedModel = model
        maskedModel.graph = masked
        foldedModel.graph = folding.graph
        let expected = try #require(try Executor(model: maskedModel).run(["input": input], parameters: values)["logits"]).floats
        let folded = try #require(try Executor(model: foldedModel).run(["input": input], parameters: folding.parameters(values))["logits"]).floats
        #expect(maxAbsDifference(folded, expected) < 1e-4, "folded: \(maxAbsDifference(folded, expected))")
        var pruned = model
        pruned.graph = try ChannelPruning.remove(model.graph, analysis, removed: removed, means: means)
        let out = Fixtures.temporaryDirectory("channels") + "/fmnist-pruned-means.onnx"
        try ONNXExporter.write(pruned, to: out)
        let checked = try runJudge("check_model.py", [out]) as! [String: String]
        #expect(checked[out] == "ok")
        let theirs = try ONNXRuntimeJudge.run(model: out, input: input).floats
        #expect(maxAbsDifference(theirs, expected) < 1e-4, "onnxruntime: \(maxAbsDifference(theirs, expected))")
        var zeroed = model
        zeroed.graph = try ChannelPruning.remove(model.graph, analysis, removed: removed)
        let without = try #require(try Executor(model: zeroed).run(["input": input])["logits"]).floats
        #expect(maxAbsDifference(without, expected) > 1e-2)
    }

    /// On the real model: a quarter of the groups removed, the exported file passes the
    /// checker, and onnxruntime gives the masked model's logits on real images.
    @Test func fmnistRemovalEqualsMasking() throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: graph, opset: model.defaultOpsetVersion!)
        var random = SplitMix64(seed: 9)
        var removed = Set<Int>()
        for g in analysis.groups.indices where random.nextFloat() < -0.5 { removed.insert(g) }
        let (masked, masks) = ChannelPruning.insertMasks(graph, analysis)
        var maskedModel = model
        maskedModel.graph = masked
        let (input, _) = try fashionMNISTBatch(count: 64)
        let expected = try #require(try Executor(model: maskedModel).run(["input": input], parameters: ChannelPruning.maskValues(masks, analysis, removed: removed))["logits"])
        var pruned = model
        pruned.graph = try ChannelPruning.remove(graph, analysis, removed: removed)
        let out = Fixtures.temporaryDirectory("channels") + "/fmnist-pruned.onnx"
        try ONNXExporter.write(pruned, to: out)
        let checked = try runJudge("check_model.py", [out]) as! [String: String]
        #expect(checked[out] == "ok")
        let theirs = try ONNXRuntimeJudge.run(model: out, input: input)
        let difference = maxAbsDifference(theirs.floats, expected.floats)
        print("fmnist, \(removed.count) of \(analysis.groups.count) groups removed: onnxruntime vs masked engine max |difference| \(difference)")
        #expect(difference < 1e-4)
        let before = try GraphSummary(model: model).layerParameters, after = try GraphSummary(model: pruned).layerParameters
        #expect(after == ChannelPruning.layerParameters(graph, analysis, removed: removed))
        #expect(after < before * 85 / 100)
    }
}

extension GraphBuilder {
    mutating func initializerOnes(_ name: String, _ dims: [Int]) -> String {
        initializers.append(Tensor(name: name, dims: dims, floats: Array(repeating: 1, count: dims.reduce(1, *))))
        return name
    }

    mutating func scalar(_ name: String, _ value: Float) -> String {
        initializers.append(Tensor(name: name, dims: [], floats: [value]))
        return name
    }
}
