/// Filter (channel) pruning over a `ChannelDependency` analysis: masks that zero channels where
/// the layers summing over them read them (for measuring importance and for evaluating a
/// candidate without rebuilding the graph), and the removal itself, which slices every weight
/// the removed channels touch. Removal equals masking: the removed channels' only effect on
/// the outputs is through those reads.
public enum ChannelPruning {
    public static let name = "ChannelPruning"

    /// A unit mask `m` multiplied into one sink tensor: `x' = x * m`, m of shape [1, C, 1, ...] (or [C] for 2-D).
    /// With a `mean` per channel (mean replacement) it masks the centred tensor instead:
    /// `x' = (x - mean) * m + mean`, so a removed channel leaves its mean behind and the mask's
    /// gradient is that of the channel's variation.
    ///
    /// A *statistics* mask is instead the channel weights of a LayerNormalization over a masked
    /// space's channels (`ChannelDependency.Space.normalizers`), its input 3, shape [C]: with a
    /// channel's weight 0 its mean and variance leave that channel out, as the pruned model's do.
    /// It takes the same values as the space's other masks; it has no gradient (not a sink).
    public struct Mask: Sendable {
        public var tensor: String
        public var initializer: String
        public var space: Int
        public var channels: Int
        public var shape: [Int]
        public var mean: [Float]? = nil
        public var statistics = false
    }

    /// `graph` with a mask on every tensor that a layer sums over and that has removable
    /// channels; the masks are initializers of ones. A tensor in `means` (by name, one value
    /// per channel) is masked centred (`Mask.mean`): `Add(x, -mean)`, the mask's `Mul`, then
    /// `Add(+mean)`. Each LayerNormalization over such a space's channels gets a statistics
    /// mask as its input 3 (`Mask.statistics`).
    public static func insertMasks(_ graph: Graph, _ analysis: ChannelDependency, means: [String: [Float]] = [:]) -> (graph: Graph, masks: [Mask]) {
        var graph = graph
        var taken = graph.usedNames
        var masks: [Mask] = []
        var maskedName: [String: String] = [:]
        var inserted: [Int: [Node]] = [:]  // mask nodes to insert before the node index
        for (n, space) in analysis.spaces.enumerated() where space.blocked == nil && analysis.fixedChannels[n] < space.channels {
            for sink in space.sinks {
                if maskedName[sink.tensor] == nil {
                    let rank = rankOf(sink, graph)
                    let shape = rank == 2 ? [space.channels] : [1, space.channels] + Array(repeating: 1, count: rank - 2)
                    let m = graph.freshName(sink.tensor + "/channel.mask", taken: &taken)
                    let out = graph.freshName(sink.tensor + "/masked", taken: &taken)
                    let mean = means[sink.tensor].flatMap { $0.count == space.channels ? $0 : nil }
                    if let mean {
                        let negative = graph.freshName(sink.tensor + "/channel.mean.negated", taken: &taken)
                        let positive = graph.freshName(sink.tensor + "/channel.mean", taken: &taken)
                        let centred = graph.freshName(sink.tensor + "/centred", taken: &taken)
                        let product = graph.freshName(sink.tensor + "/centred.masked", taken: &taken)
                        inserted[sink.node, default: []] += [
                            Node(name: graph.freshName(sink.tensor + "/centre", taken: &taken), opType: "Add", inputs: [sink.tensor, negative], outputs: [centred]),
                            Node(name: graph.freshName(sink.tensor + "/mask", taken: &taken), opType: "Mul", inputs: [centred, m], outputs: [product]),
                            Node(name: graph.freshName(sink.tensor + "/uncentre", taken: &taken), opType: "Add", inputs: [product, positive], outputs: [out]),
                        ]
                        graph.initializers.append(Tensor(name: negative, dims: shape, floats: mean.map { -$0 }))
                        graph.initializers.append(Tensor(name: positive, dims: shape, floats: mean))
                    } else {
                        let node = Node(name: graph.freshName(sink.tensor + "/mask", taken: &taken), opType: "Mul", inputs: [sink.tensor, m], outputs: [out])
                        inserted[sink.node, default: []].append(node)
                    }
                    graph.initializers.append(Tensor(name: m, dims: shape, floats: Array(repeating: 1, count: space.channels)))
                    masks.append(Mask(tensor: sink.tensor, initializer: m, space: n, channels: space.channels, shape: shape, mean: mean))
                    maskedName[sink.tensor] = out
                }
                graph.nodes[sink.node].inputs[sink.input] = maskedName[sink.tensor]!
            }
            for index in space.normalizers {
                let node = graph.nodes[index]
                let w = graph.freshName((node.name.flatMap { $0.isEmpty ? nil : $0 } ?? node.outputs[0]) + "/channel.weights", taken: &taken)
                graph.initializers.append(Tensor(name: w, dims: [space.channels], floats: Array(repeating: 1, count: space.channels)))
                while graph.nodes[index].inputs.count < 3 { graph.nodes[index].inputs.append("") }
                graph.nodes[index].inputs.append(w)
                masks.append(Mask(tensor: node.inputs[0], initializer: w, space: n, channels: space.channels, shape: [space.channels], statistics: true))
            }
        }
        var nodes: [Node] = []
        for (i, node) in graph.nodes.enumerated() {
            nodes += inserted[i] ?? []
            nodes.append(node)
        }
        graph.nodes = nodes
        return (graph, masks)
    }

    /// The axis of the weight (input 1) of a layer that sums over its input's channels which
    /// runs over those channels: a Conv's 1, a MatMul's 0, a Gemm's 0 (1 with `transB`); nil
    /// for other ops.
    static func summedAxis(_ node: Node) -> Int? {
        switch node.opType {
        case "Conv": 1
        case "Gemm": node.int("transB", default: 0) == 0 ? 0 : 1
        case "MatMul": 0
        default: nil
        }
    }

    /// Whether a sink can take a removed channel's mean into its bias exactly: a `group` 1 Conv
    /// with a 1x1 kernel and no padding, or a Gemm (`transA` 0, `alpha` and `beta` 1) whose bias
    /// is absent or one per output; its weight an initializer.
    static func takesMeans(_ node: Node, _ initializers: [String: Tensor]) -> Bool {
        guard let w = node.input(1).flatMap({ initializers[$0] }), w.dataType == .float else { return false }
        switch node.opType {
        case "Conv":
            return node.int("group", default: 1) == 1 && w.dims.count >= 3 && w.dims.dropFirst(2).allSatisfy { $0 == 1 }
                && (node.ints("pads")?.allSatisfy { $0 == 0 } ?? true) && (node.string("auto_pad") ?? "NOTSET") == "NOTSET"
        case "Gemm":
            guard w.dims.count == 2, node.int("transA", default: 0) == 0, node.float("alpha") ?? 1 == 1, node.float("beta") ?? 1 == 1 else { return false }
            let outputs = node.int("transB", default: 0) == 0 ? w.dims[1] : w.dims[0]
            return node.input(2).map { $0.isEmpty || initializers[$0]?.elementCount == outputs } ?? true
        default:
            return false
        }
    }

    /// Per output of a sink with weight `w` (float elements of `dims`): the sum over its input
    /// channels (weight axis `axis`) and kernel taps of `w * coefficient[channel]`, what
    /// channels held at the constants `coefficient` add to its outputs. The output axis is 0,
    /// or 1 for a Gemm without `transB` (`axis` 0).
    static func constantInputShift(_ w: [Float], dims: [Int], axis: Int, coefficients: [Double]) -> [Double] {
        let channels = dims[axis]
        if axis == 0 {
            // A Gemm weight [K, N]: output n sums w[c, n] over c.
            let outputs = w.count / max(channels, 1)
            var shift = [Double](repeating: 0, count: outputs)
            for c in 0..<channels where coefficients[c] != 0 {
                for n in 0..<outputs { shift[n] += coefficients[c] * Double(w[c * outputs + n]) }
            }
            return shift
        }
        // [outputs, channels, taps...]: output o sums w[o, c, taps] over c and the taps.
        let taps = dims.dropFirst(2).reduce(1, *), outputs = dims[0]
        var shift = [Double](repeating: 0, count: outputs)
        for o in 0..<outputs {
            for c in 0..<channels where coefficients[c] != 0 {
                let start = (o * channels + c) * taps
                var sum = 0.0
                for t in start ..< start + taps { sum += Double(w[t]) }
                shift[o] += coefficients[c] * sum
            }
        }
        return shift
    }

    /// The rank of the tensor a sink reads (from its weight: a Conv's input has the weight's rank).
    static func rankOf(_ sink: ChannelDependency.Sink, _ graph: Graph) -> Int {
        let node = graph.nodes[sink.node]
        guard node.opType == "Conv", let w = node.input(1) else { return 2 }
        if let t = graph.initializers.first(where: { $0.name == w }) { return t.dims.count }
        return 4
    }

    /// Mask values for `removed` groups: 0 on their channels, 1 elsewhere, shaped like the masks.
    public static func maskValues(_ masks: [Mask], _ analysis: ChannelDependency, removed: Set<Int>) -> [String: Value] {
        let channels = analysis.removedChannels(removed)
        var result: [String: Value] = [:]
        for m in masks {
            var v = [Float](repeating: 1, count: m.channels)
            for c in channels[m.space] { v[c] = 0 }
            result[m.initializer] = Value(shape: m.shape, floats: v)
        }
        return result
    }

    /// `graph` with the channels of `removed` groups gone: filters of the producing layers,
    /// per-channel weights in between, and input columns of the layers that sum over them.
    /// A sink reading a tensor in `means` (by name, one value per channel, as `insertMasks`
    /// took them) gets each removed channel's mean times its weights added to its bias.
    public static func remove(_ graph: Graph, _ analysis: ChannelDependency, removed: Set<Int>,
                              means: [String: [Float]] = [:]) throws(PassError) -> Graph {
        guard !removed.isEmpty else { return graph }
        let channels = analysis.removedChannels(removed)
        for (n, space) in analysis.spaces.enumerated() where channels[n].count >= space.channels {
            throw PassError(pass: name, node: space.tensors.first ?? "?", reason: "removing every channel of a space")
        }
        var graph = graph
        var taken = graph.usedNames
        let constantNodes: [String: Tensor] = Dictionary(graph.nodes.compactMap { node in
            node.opType == "Constant" ? node.outputs.first.flatMap { out in node.tensor("value").map { (out, $0) } } : nil
        }, uniquingKeysWith: { a, _ in a })
        var inputRemoved: [Int: Set<Int>] = [:]  // node -> channels removed from its summed input
        var outputRemoved: [Int: Set<Int>] = [:]  // node -> filters removed
        var channelwise: [Int: Set<Int>] = [:]
        var constants: [(ChannelDependency.PerChannelConstant, Set<Int>)] = []
        for (n, space) in analysis.spaces.enumerated() where !channels[n].isEmpty {
            for sink in space.sinks { inputRemoved[sink.node] = channels[n] }
            for p in space.producers { outputRemoved[p] = channels[n] }
            for c in space.channelwise { channelwise[c] = channels[n] }
            for c in space.constants { constants.append((c, channels[n])) }
        }
        func constant(_ name: String, in node: Node) throws(PassError) -> Tensor {
            guard let t = graph.initializers.first(where: { $0.name == name }) ?? constantNodes[name], t.dataType == .float else {
                throw PassError(pass: self.name, node: node.displayName, reason: "'\(name)' is not a float constant")
            }
            return t
        }
        func replace(_ index: Int, input k: Int, with tensor: Tensor) {
            let node = graph.nodes[index]
            let base = node.name.flatMap { $0.isEmpty ? nil : $0 } ?? node.outputs[0]
            let name = graph.freshName(base + "/" + (k == 1 ? "weight" : k == 2 ? "bias" : "input\(k)") + ".pruned", taken: &taken)
            var t = tensor
            t.name = name
            graph.initializers.append(t)
            graph.nodes[index].inputs[k] = name
        }
        /// The bias of a sink at `index` with weight `w` (channels on `axis`) once the removed
        /// channels' means are added, before outputs are removed; nil without means.
        func meanShiftedBias(_ index: Int, _ w: Tensor, axis: Int, removing channels: Set<Int>) throws(PassError) -> Tensor? {
            let node = graph.nodes[index]
            guard !channels.isEmpty, let mean = means[node.inputs[0]], mean.count == w.dims[axis] else { return nil }
            let coefficients = (0..<mean.count).map { channels.contains($0) ? Double(mean[$0]) : 0 }
            let shift = constantInputShift(w.floats, dims: w.dims, axis: axis, coefficients: coefficients)
            var bias = shift
            if let b = node.input(2), !b.isEmpty {
                let old = try constant(b, in: node).floats
                guard old.count == shift.count else {
                    throw PassError(pass: name, node: node.displayName, reason: "bias has \(old.count) values for \(shift.count) outputs")
                }
                for o in bias.indices { bias[o] += Double(old[o]) }
            }
            return Tensor(name: nil, dims: [bias.count], floats: bias.map { Float($0) })
        }
        func setBias(_ index: Int, _ bias: Tensor?, removing outRemoved: Set<Int>) throws(PassError) {
            let node = graph.nodes[index]
            if let bias {
                if graph.nodes[index].inputs.count < 3 { graph.nodes[index].inputs.append("") }
                replace(index, input: 2, with: outRemoved.isEmpty ? bias : slice(bias, axis: 0, removing: outRemoved))
            } else if let b = node.input(2), !b.isEmpty, !outRemoved.isEmpty {
                let t = try constant(b, in: node)
                if node.opType == "Conv" || t.elementCount > 1 { replace(index, input: 2, with: slice(t, axis: t.dims.count - 1, removing: outRemoved)) }
            }
        }
        let touched = Set(inputRemoved.keys).union(outputRemoved.keys).union(channelwise.keys)
        for index in touched.sorted() {
            let node = graph.nodes[index]
            let inRemoved = inputRemoved[index] ?? [], outRemoved = outputRemoved[index] ?? channelwise[index] ?? []
            switch node.opType {
            case "Conv":
                let w = try constant(node.input(1)!, in: node)
                if channelwise[index] != nil {
                    replace(index, input: 1, with: slice(w, axis: 0, removing: outRemoved))
                    if let group = graph.nodes[index].attributes.firstIndex(where: { $0.name == "group" }) {
                        graph.nodes[index].attributes[group].value = .int(Int64(w.dims[0] - outRemoved.count))
                    }
                    try setBias(index, nil, removing: outRemoved)
                } else {
                    replace(index, input: 1, with: slice(slice(w, axis: 0, removing: outRemoved), axis: summedAxis(node)!, removing: inRemoved))
                    try setBias(index, try meanShiftedBias(index, w, axis: summedAxis(node)!, removing: inRemoved), removing: outRemoved)
                }
            case "Gemm", "MatMul":
                let w = try constant(node.input(1)!, in: node)
                let inAxis = summedAxis(node)!
                replace(index, input: 1, with: slice(slice(w, axis: 1 - inAxis, removing: outRemoved), axis: inAxis, removing: inRemoved))
                if node.opType == "Gemm" {
                    try setBias(index, try meanShiftedBias(index, w, axis: inAxis, removing: inRemoved), removing: outRemoved)
                }
            case "BatchNormalization":
                for k in 1...4 { replace(index, input: k, with: slice(try constant(node.input(k)!, in: node), axis: 0, removing: outRemoved)) }
            default:
                throw PassError(pass: name, node: node.displayName, reason: "\(node.opType) cannot lose channels")
            }
        }
        for (c, removedChannels) in constants {
            let node = graph.nodes[c.node]
            replace(c.node, input: c.input, with: slice(try constant(node.inputs[c.input], in: node), axis: c.axis, removing: removedChannels))
        }
        // Split sizes and channel shuffle shapes that count removed channels.
        var recounted: Set<String> = []
        for (n, space) in analysis.spaces.enumerated() where !channels[n].isEmpty {
            for count in space.counts {
                try rewriteCount(&graph, count, removed: channels[n], taken: &taken, constantNodes: constantNodes)
                recounted.formUnion(graph.nodes[count.node].outputs)
            }
        }
        // Declared shapes of the tensors that lost channels no longer hold (nor those of a
        // shuffle's inner tensors).
        var changed = Set(analysis.spaces.enumerated().filter { !channels[$0.offset].isEmpty }.flatMap(\.element.tensors)).union(recounted)
        // And those inside a LayerNormalization over channels (channels last).
        for (n, space) in analysis.spaces.enumerated() where !channels[n].isEmpty {
            for index in space.normalizers { changed.formUnion(graph.nodes[index].inputs.prefix(1) + graph.nodes[index].outputs) }
        }
        for node in graph.nodes where node.inputs.contains(where: recounted.contains) { changed.formUnion(node.outputs) }
        graph.valueInfo = graph.valueInfo.filter { !changed.contains($0.name) }
        return graph.removingDeadCode()
    }

    /// Rewrites the element of a Split's sizes or a Reshape's shape that `count` describes, for
    /// the space's `removed` channels. A shape element of -1 or 0 (inferred or copied) stays.
    static func rewriteCount(
        _ graph: inout Graph, _ count: ChannelDependency.CountConstant, removed: Set<Int>, taken: inout Set<String>,
        constantNodes: [String: Tensor]
    ) throws(PassError) {
        let node = graph.nodes[count.node]
        let gone = removed.filter { $0 >= count.offset && $0 < count.offset + count.count }.count
        let value = (count.count - gone) / count.divisor
        if let input = node.input(1), !input.isEmpty {
            guard let t = graph.initializers.first(where: { $0.name == input }) ?? constantNodes[input],
                  t.dataType == .int64 || t.dataType == .int32, var values = t.doubleValues().map({ $0.map { Int64($0) } }),
                  count.element < values.count else {
                throw PassError(pass: name, node: node.displayName, reason: "'\(input)' is not an integer constant")
            }
            if values[count.element] == -1 || (node.opType == "Reshape" && values[count.element] == 0) { return }
            values[count.element] = Int64(value)
            let base = node.name.flatMap { $0.isEmpty ? nil : $0 } ?? node.outputs[0]
            let fresh = graph.freshName(base + "/" + (node.opType == "Split" ? "split" : "shape") + ".pruned", taken: &taken)
            graph.initializers.append(Tensor(name: fresh, dataType: .int64, dims: t.dims, storage: TensorStorage(values: values)))
            graph.nodes[count.node].inputs[1] = fresh
        } else if let k = node.attributes.firstIndex(where: { $0.name == "split" }), case .ints(var sizes) = node.attributes[k].value,
                  count.element < sizes.count {
            sizes[count.element] = Int64(value)
            graph.nodes[count.node].attributes[k].value = .ints(sizes)
        } else {
            throw PassError(pass: name, node: node.displayName, reason: "has no constant that counts the channels")
        }
    }

    /// `tensor` without the indices `removing` along `axis`.
    static func slice(_ tensor: Tensor, axis: Int, removing: Set<Int>) -> Tensor {
        guard !removing.isEmpty else { return tensor }
        let dims = tensor.dims
        let outer = dims[..<axis].reduce(1, *), inner = dims[(axis + 1)...].reduce(1, *), n = dims[axis]
        let keep = (0..<n).filter { !removing.contains($0) }
        let values = tensor.floats
        var result = [Float]()
        result.reserveCapacity(outer * keep.count * inner)
        for o in 0..<outer {
            for k in keep {
                let start = (o * n + k) * inner
                result.append(contentsOf: values[start..<(start + inner)])
            }
        }
        var newDims = dims
        newDims[axis] = keep.count
        return Tensor(name: tensor.name, dims: newDims, floats: result)
    }

    /// Weight and bias elements of the Conv, Gemm and MatMul layers once `removed` groups go
    /// (the same count `GraphSummary.layerParameters` gives for the pruned graph).
    public static func layerParameters(_ graph: Graph, _ analysis: ChannelDependency, removed: Set<Int>) -> Int {
        layerSize(graph, analysis, removed: removed, positions: nil)
    }

    /// With `positions` (output positions per image by node index): MACs per image of those
    /// layers (weight elements times positions, biases not counted); without: parameters.
    static func layerSize(_ graph: Graph, _ analysis: ChannelDependency, removed: Set<Int>, positions: [Int: Int]?) -> Int {
        let channels = analysis.removedChannels(removed)
        var inputRemoved: [Int: Int] = [:], outputRemoved: [Int: Int] = [:]
        for (n, space) in analysis.spaces.enumerated() {
            for sink in space.sinks { inputRemoved[sink.node] = channels[n].count }
            for p in space.producers + space.channelwise { outputRemoved[p] = channels[n].count }
        }
        let initializers = graph.initializersByName
        var total = 0
        for (index, node) in graph.nodes.enumerated() where ["Conv", "Gemm", "MatMul"].contains(node.opType) {
            guard let w = node.input(1).flatMap({ initializers[$0] }) else { continue }
            var dims = w.dims
            let o = outputRemoved[index] ?? 0, i = inputRemoved[index] ?? 0
            if node.opType == "Conv" {
                dims[0] -= o
                if node.int("group", default: 1)! == 1 { dims[1] -= i }
            } else {
                let transB = node.opType == "Gemm" && node.int("transB", default: 0)! != 0
                dims[transB ? 0 : 1] -= o
                dims[transB ? 1 : 0] -= i
            }
            if let positions {
                total += dims.reduce(1, *) * (positions[index] ?? 1)
                continue
            }
            total += dims.reduce(1, *)
            if let b = node.input(2).flatMap({ initializers[$0] }) { total += b.elementCount > 1 ? b.elementCount - o : b.elementCount }
        }
        return total
    }

    /// What each group frees on its own (its filters, per-channel weights and input columns):
    /// parameters, or with `positions` MACs per image.
    public static func groupCosts(_ graph: Graph, _ analysis: ChannelDependency, positions: [Int: Int]? = nil) -> [Int] {
        let all = layerSize(graph, analysis, removed: [], positions: positions)
        // Removing one channel of a space frees the same amount for every channel of it.
        var perSpace: [Int: Int] = [:]
        for (n, _) in analysis.spaces.enumerated() {
            guard let g = analysis.groups.firstIndex(where: { $0.count == 1 && $0[0].space == n }) else { continue }
            perSpace[n] = all - layerSize(graph, analysis, removed: [g], positions: positions)
        }
        return analysis.groups.indices.map { g in
            let members = analysis.groups[g]
            if members.count == 1, let cost = perSpace[members[0].space] { return cost }
            return all - layerSize(graph, analysis, removed: [g], positions: positions)
        }
    }
}
