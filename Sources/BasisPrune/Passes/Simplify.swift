/// Cleans a graph up for deployment, as onnxsim and onnxslim do, with this engine's own shape
/// inference and operators:
///
/// 1. Constant folding: a node whose inputs are all constants (initializers, Constant nodes,
///    folded values) is run once by the engine and replaced by an initializer named after its
///    output; so is a node whose output static shape inference computes from shapes alone
///    (PyTorch's padding arithmetic: Shape, Gather, Div, Cast, Concat, ...). A value is taken
///    from shapes only when it comes out the same for three values of every symbolic input
///    dimension (batch 1, 2 and 7), so nothing that depends on the batch size is frozen.
/// 2. A constant zero Pad of the spatial axes whose readers are all Convs becomes part of those
///    Convs' `pads`.
/// 3. Identity, and Dropout in inference mode, are removed (their readers read the input).
/// 4. Dead nodes and unused initializers are removed.
/// 5. (Between 1 and 2.) The channels-last blocks of ConvNeXt-style graphs become 1x1 Convs and
///    channels-first ops (`ChannelsLastToConv`), and LayerNorms over channels written out with
///    ReduceMean become LayerNormalization ops (`WrittenOutLayerNorm`, opset 17 and later).
///
/// Node names and the names of the values that stay are kept. Graph inputs and outputs stay;
/// an initializer that is also a graph input (IR version 4 and later) may be overridden at run
/// time and is never treated as a constant.
public enum Simplify {
    public static let name = "Simplify"

    /// What a run changed.
    public struct Statistics: Sendable, Equatable {
        public var nodesBefore = 0
        public var nodesAfter = 0
        /// Nodes replaced by initializers.
        public var folded = 0
        /// Pad nodes merged into Convs.
        public var padsFused = 0
        /// Identity and Dropout nodes removed.
        public var passThroughsRemoved = 0
        /// Channels-last blocks rewritten in NCHW (`ChannelsLastToConv`).
        public var channelsLastBlocks = 0
        /// LayerNorms over channels written out, now LayerNormalization ops (`WrittenOutLayerNorm`).
        public var writtenOutLayerNorms = 0
    }

    /// Ops never folded: random outputs, or subgraphs.
    static let neverFolded: Set<String> = [
        "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
        "If", "Loop", "Scan", "SequenceMap",
    ]

    /// A folded value may be at most this many elements larger than the constants it reads,
    /// so that folding (an Expand or Tile of a constant, say) cannot blow the file up.
    static let growthLimit = 4096

    public static func run(_ model: Model) throws(PassError) -> (model: Model, statistics: Statistics) {
        var result = model
        var statistics = Statistics()
        statistics.nodesBefore = model.graph.nodes.count
        let opset = model.defaultOpsetVersion ?? 21
        var graph = model.graph
        graph = try foldConstants(graph, opset: opset, irVersion: model.irVersion, statistics: &statistics)
        (graph, statistics.channelsLastBlocks) = ChannelsLastToConv.run(graph, opset: opset)
        (graph, statistics.writtenOutLayerNorms) = WrittenOutLayerNorm.run(graph, opset: opset)
        graph = fusePads(graph, opset: opset, statistics: &statistics)
        graph = removePassThroughs(graph, opset: opset, statistics: &statistics)
        graph = graph.removingDeadCode()
        // A graph input that only carried an initializer (IR version 3 lists every initializer
        // as an input) goes with it, or a runtime would ask for it.
        let before = Set(model.graph.initializers.compactMap(\.name)), after = Set(graph.initializers.compactMap(\.name))
        let read = graph.readCounts
        graph.inputs.removeAll { before.contains($0.name) && !after.contains($0.name) && read[$0.name, default: 0] == 0 }
        statistics.nodesAfter = graph.nodes.count
        result.graph = graph
        return (result, statistics)
    }

    // MARK: constant folding

    static func foldConstants(_ graph: Graph, opset: Int64, irVersion: Int64, statistics: inout Statistics) throws(PassError) -> Graph {
        var graph = graph
        let inputNames = Set(graph.inputs.map(\.name))
        var constants: [String: Tensor] = [:]
        for tensor in graph.initializers {
            guard let name = tensor.name, irVersion < 4 || !inputNames.contains(name) else { continue }
            constants[name] = tensor
        }
        // Shape inference with each symbolic input dimension set to 1, 2 and 7.
        var runs: [[String: ValueFacts]] = []
        for size in [1, 2, 7] {
            var shapes: [String: [Int]] = [:]
            for input in graph.inputs where constants[input.name] == nil {
                guard let dims = input.type?.tensor?.shape else { continue }
                shapes[input.name] = dims.map { d -> Int in
                    if case .known(let v) = d.value { return Int(v) }
                    return size
                }
            }
            if let facts = try? ShapeInference(graph: graph, opset: opset, inputShapes: shapes).facts { runs.append(facts) }
        }
        let outputs = Set(graph.outputs.map(\.name))
        var kept: [Node] = []
        var added: [Tensor] = []
        for node in graph.nodes {
            let produced = node.outputs.filter { !$0.isEmpty }
            let defaultDomain = (node.domain ?? "").isEmpty || node.domain == "ai.onnx"
            guard defaultDomain, !produced.isEmpty, !neverFolded.contains(node.opType), !produced.contains(where: outputs.contains) else {
                kept.append(node)
                continue
            }
            var tensors: [Tensor]?
            // Values static inference computed from shapes and small constants, the same in every run.
            if runs.count >= 2 {
                let facts = produced.map { name in runs.map { $0[name] } }
                if facts.allSatisfy({ f in f.allSatisfy { $0?.values != nil } && Set(f.map { $0!.values! }).count == 1 && Set(f.map { $0!.shape }).count == 1 }) {
                    tensors = zip(produced, facts).compactMap { name, f in Executor.materialize(f[0]!)?.tensor(name: name) }
                    if tensors?.count != produced.count { tensors = nil }
                }
            }
            // Nodes reading only constants: run by the engine.
            let reads = node.inputs.filter { !$0.isEmpty }
            if tensors == nil, reads.allSatisfy({ constants[$0] != nil }) {
                tensors = evaluate(node, inputs: reads.compactMap { constants[$0] }, model: graph, opset: opset)
                let readElements = reads.reduce(0) { $0 + (constants[$1]?.elementCount ?? 0) }
                if let t = tensors, t.reduce(0, { $0 + $1.elementCount }) > 2 * readElements + growthLimit { tensors = nil }
            }
            guard let tensors else {
                kept.append(node)
                continue
            }
            for tensor in tensors { constants[tensor.name!] = tensor }
            added += tensors
            statistics.folded += 1
        }
        graph.nodes = kept
        graph.initializers += added
        // Value infos of folded values would repeat what the initializers say.
        let folded = Set(added.compactMap(\.name))
        graph.valueInfo = graph.valueInfo.filter { !folded.contains($0.name) }
        return graph
    }

    /// Runs `node` on constant inputs; nil when the engine cannot.
    static func evaluate(_ node: Node, inputs: [Tensor], model graph: Graph, opset: Int64) -> [Tensor]? {
        let produced = node.outputs.filter { !$0.isEmpty }
        let mini = Graph(name: "fold", nodes: [node], initializers: inputs, inputs: [],
                         outputs: produced.map { ValueInfo(name: $0, type: nil) })
        let model = Model(irVersion: 8, opsetImports: [OpsetImport(domain: nil, version: opset)], graph: mini)
        guard let executor = try? Executor(model: model, fuse: false), let values = try? executor.run([:]) else { return nil }
        var tensors: [Tensor] = []
        for name in produced {
            guard let value = values[name] else { return nil }
            tensors.append(value.tensor(name: name))
        }
        return tensors
    }

    // MARK: Pad into Conv

    static func fusePads(_ graph: Graph, opset: Int64, statistics: inout Statistics) -> Graph {
        var graph = graph
        let initializers = graph.initializersByName
        let outputs = Set(graph.outputs.map(\.name))
        var readers: [String: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty { readers[input, default: []].append(i) }
        }
        for pad in graph.nodes where pad.opType == "Pad" {
            guard let x = pad.inputs.first, !x.isEmpty, let y = pad.outputs.first, !outputs.contains(y),
                  pad.string("mode", default: "constant") == "constant", pad.input(3) == nil else { continue }
            let pads: [Int]
            if opset >= 11 {
                guard let name = pad.input(1), let values = initializers[name]?.doubleValues() else { continue }
                pads = values.map { Int(saturating: $0) }
                if let valueName = pad.input(2) {
                    guard let value = initializers[valueName]?.doubleValues(), value.allSatisfy({ $0 == 0 }) else { continue }
                }
            } else {
                guard let values = pad.ints("pads") else { continue }
                pads = values
                guard pad.float("value", default: 0) == 0 else { continue }
            }
            let rank = pads.count / 2
            guard rank >= 3, pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 }),
                  pads[0] == 0, pads[1] == 0, pads[rank] == 0, pads[rank + 1] == 0 else { continue }
            let spatial = rank - 2
            let consumers = readers[y] ?? []
            guard !consumers.isEmpty, consumers.allSatisfy({ i in
                let conv = graph.nodes[i]
                return conv.opType == "Conv" && conv.inputs.first == y && !conv.inputs.dropFirst().contains(y)
                    && ["NOTSET", ""].contains(conv.string("auto_pad", default: "NOTSET") ?? "NOTSET")
                    && (conv.ints("pads").map { $0.count == 2 * spatial } ?? true)
            }) else { continue }
            for i in consumers {
                var conv = graph.nodes[i]
                var convPads = conv.ints("pads") ?? Array(repeating: 0, count: 2 * spatial)
                for d in 0..<spatial {
                    convPads[d] += pads[2 + d]
                    convPads[spatial + d] += pads[rank + 2 + d]
                }
                conv.inputs[0] = x
                conv.attributes.removeAll { $0.name == "pads" }
                conv.attributes.append(Attribute(name: "pads", value: .ints(convPads.map(Int64.init))))
                graph.nodes[i] = conv
            }
            statistics.padsFused += 1
        }
        return graph.removingDeadCode()
    }

    // MARK: Identity and Dropout

    static func removePassThroughs(_ graph: Graph, opset: Int64, statistics: inout Statistics) -> Graph {
        var graph = graph
        // Renaming would have to reach into subgraphs that read outer values: left alone.
        let hasSubgraphs = graph.nodes.contains { node in
            node.attributes.contains { if case .graph = $0.value { true } else if case .graphs = $0.value { true } else { false } }
        }
        if hasSubgraphs { return graph }
        let initializers = graph.initializersByName
        var index = 0
        while index < graph.nodes.count {
            let node = graph.nodes[index]
            guard isPassThrough(node, initializers: initializers, readers: graph.readCounts),
                  let x = node.inputs.first, !x.isEmpty, let y = node.outputs.first, !y.isEmpty else {
                index += 1
                continue
            }
            let outputs = Set(graph.outputs.map(\.name))
            if !outputs.contains(y) {
                for i in graph.nodes.indices { graph.nodes[i].inputs = graph.nodes[i].inputs.map { $0 == y ? x : $0 } }
            } else if let producer = graph.nodes.firstIndex(where: { $0.outputs.contains(x) }), !outputs.contains(x),
                      !graph.inputs.contains(where: { $0.name == x }) {
                // y is a graph output: the producer writes y directly.
                graph.nodes[producer].outputs = graph.nodes[producer].outputs.map { $0 == x ? y : $0 }
                for i in graph.nodes.indices { graph.nodes[i].inputs = graph.nodes[i].inputs.map { $0 == x ? y : $0 } }
                graph.valueInfo.removeAll { $0.name == x }
            } else {
                index += 1
                continue
            }
            graph.nodes.remove(at: index)
            graph.valueInfo.removeAll { $0.name == y && !outputs.contains(y) }
            statistics.passThroughsRemoved += 1
        }
        return graph
    }

    /// Identity, or Dropout whose mask nobody reads and which cannot be in training mode.
    static func isPassThrough(_ node: Node, initializers: [String: Tensor], readers: [String: Int]) -> Bool {
        guard (node.domain ?? "").isEmpty || node.domain == "ai.onnx" else { return false }
        switch node.opType {
        case "Identity":
            return node.inputs.count == 1 && node.outputs.count == 1
        case "Dropout":
            if node.outputs.count > 1, !node.outputs[1].isEmpty, readers[node.outputs[1], default: 0] > 0 { return false }
            if let training = node.input(2) {
                guard let value = initializers[training]?.doubleValues(), value == [0] else { return false }
            }
            return true
        default:
            return false
        }
    }
}
