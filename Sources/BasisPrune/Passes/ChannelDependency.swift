/// Channel dependency analysis: which output channels (filters) of Conv, Gemm and MatMul
/// layers must be removed together, and what else removing them touches.
///
/// Tensors whose channel axis (axis 1) is indexed the same way form a *space*: element-wise
/// ops (Add/Sub/Mul/Div/Max/Min/Sum/Mean: residual connections), activations, pools, Pad
/// without channel padding, BatchNormalization, Flatten of [N, C, 1, 1], ReduceMean/ReduceSum/
/// ReduceMax over spatial axes (the dynamo exporter's global pooling), and depthwise convs
/// (channel to channel) put their inputs and outputs in one space. A Conv with one group, a
/// Gemm or a MatMul with a constant weight *produces* a new space (its filters) and *sinks*
/// the space it reads (it sums over that space's channels). Concat along axis 1 makes a space
/// whose channels are the channels of its inputs at offsets; a Split along axis 1 with constant
/// sizes makes one space per output, each the channels of its input at an offset. A channel
/// shuffle (Reshape [N, C, H, W] -> [N, g, C/g, H, W], Transpose [0, 2, 1, 3, 4], Reshape back)
/// makes a space whose channel `i g + j` is channel `j C/g + i` of its input; channels `j C/g + i`
/// for every j go together, so that the shuffle stays one after removal.
///
/// A LayerNormalization over the channels (ConvNeXt's: Transpose to channels last, over the
/// last axis, Transpose back, as `ChannelsLastToConv` leaves it; or over the last axis of an
/// [N, C] value) keeps the channel indexing: its output joins its input's space as a
/// *normalizer*, its scale and bias are sliced with the channels. Unlike the other ops it mixes
/// the channels: its mean and variance are over all of them, so removing a channel changes every
/// other channel's output. The pruned model normalizes over the kept channels; the masked model
/// (`ChannelPruning.insertMasks`) gives each normalizer channel weights so that it does the same.
///
/// A *group* is a set of (space, channel) pairs that must go together: channel c of a space,
/// joined through Concat offsets. Removing a group deletes the filters that produce it, the
/// per-channel weights of the ops it passes through, and the input columns of the layers
/// that sum over it; the function then equals the input model with those channels set to zero
/// where the sinks read them. A space is *blocked* (none of its groups removable) when it is
/// a graph input or output, or when an op this analysis does not understand reads it.
public struct ChannelDependency: Sendable {
    public struct Channel: Sendable, Hashable, Comparable {
        public var space: Int
        public var channel: Int

        public static func < (a: Channel, b: Channel) -> Bool { (a.space, a.channel) < (b.space, b.channel) }
    }

    /// A node input that sums over a space's channels.
    public struct Sink: Sendable, Hashable {
        public var node: Int
        public var input: Int
        public var tensor: String
    }

    /// A constant input of an element-wise node with one value per channel (sliced with the channels).
    public struct PerChannelConstant: Sendable, Hashable {
        public var node: Int
        public var input: Int
        /// The constant's axis that lines up with the channel axis.
        public var axis: Int
    }

    /// An element of a node's shape or split constant that counts channels of a space:
    /// `(count - removed channels in offset..<offset+count) / divisor` after removal. The
    /// constant is the node's input 1, or its `split` attribute when the input is absent.
    public struct CountConstant: Sendable, Hashable {
        public var node: Int
        public var element: Int
        public var offset: Int
        public var count: Int
        public var divisor: Int
    }

    public struct Space: Sendable {
        public var channels: Int
        /// Tensors in this space, in graph order.
        public var tensors: [String]
        /// Node indices of the layers whose filters make this space.
        public var producers: [Int]
        /// Depthwise convs and BatchNormalizations inside the space (per-channel weights).
        public var channelwise: [Int]
        public var constants: [PerChannelConstant]
        public var sinks: [Sink]
        /// For a Concat output: the spaces its channels come from, at offsets (for a Split
        /// input: the spaces of its outputs).
        public var segments: [(space: Int, offset: Int)]
        /// For a channel shuffle's output: the space it shuffles and the number of groups g.
        public var shuffles: [(space: Int, groups: Int)] = []
        /// Shape and split constants to rewrite when channels of this space go.
        public var counts: [CountConstant] = []
        /// LayerNormalizations over this space's channels (their scale and bias are in `constants`).
        public var normalizers: [Int] = []
        /// Why no channel of this space may be removed, nil when they may.
        public var blocked: String?
    }

    public var spaces: [Space]
    /// The space of each tracked tensor.
    public var spaceOf: [String: Int]
    /// Removable groups, each a sorted list of channels, ordered by their first channel.
    public var groups: [[Channel]]
    /// The group of each channel of a removable group.
    public var groupOf: [Channel: Int]
    /// Channels per space that are in no removable group.
    public var fixedChannels: [Int]

    static let unary: Set<String> = [
        "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "Selu", "Tanh", "Identity", "Dropout",
        "Softplus", "Softsign", "Neg", "Abs", "Exp", "Sqrt", "Reciprocal", "Erf", "Gelu", "Mish",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    ]
    static let elementwiseOps: Set<String> = ["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean"]

    /// Analyses `graph` with the shapes shape inference gives for the model's inputs.
    public init(graph: Graph, opset: Int64) throws(ShapeError) {
        let facts = try ShapeInference(graph: graph, opset: opset).facts
        var builder = Builder(graph: graph, facts: facts)
        builder.run()
        self = builder.finish()
    }

    init(spaces: [Space], spaceOf: [String: Int], groups: [[Channel]], groupOf: [Channel: Int], fixedChannels: [Int]) {
        self.spaces = spaces
        self.spaceOf = spaceOf
        self.groups = groups
        self.groupOf = groupOf
        self.fixedChannels = fixedChannels
    }

    /// The channels removed from each space when `removed` groups go.
    public func removedChannels(_ removed: Set<Int>) -> [Set<Int>] {
        var result = Array(repeating: Set<Int>(), count: spaces.count)
        for g in removed { for c in groups[g] { result[c.space].insert(c.channel) } }
        return result
    }

    /// A description of every space, one per line: what makes it, what sums over it, how many
    /// channels and removable groups it has (or why it is blocked).
    public func describe(_ graph: Graph) -> String {
        var lines: [String] = []
        for (i, s) in spaces.enumerated() {
            let name = { (n: Int) in graph.nodes[n].displayName }
            var line = "space \(i): \(s.channels) channels"
            if let blocked = s.blocked { line += ", blocked (\(blocked))" } else { line += ", \(s.channels - fixedChannels[i]) removable" }
            if !s.producers.isEmpty { line += "; filters of " + s.producers.map(name).joined(separator: ", ") }
            if !s.segments.isEmpty { line += "; concat of " + s.segments.map { "space \($0.space) at \($0.offset)" }.joined(separator: ", ") }
            if !s.channelwise.isEmpty { line += "; through " + s.channelwise.map(name).joined(separator: ", ") }
            if !s.normalizers.isEmpty { line += "; normalized by " + s.normalizers.map(name).joined(separator: ", ") }
            if !s.sinks.isEmpty { line += "; read by " + s.sinks.map { name($0.node) }.joined(separator: ", ") }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Builds spaces over a union-find, then merges them by root.
    struct Builder {
        let graph: Graph
        let facts: [String: ValueFacts]
        var parent: [Int] = []
        var raw: [Space] = []
        var rawOf: [String: Int] = [:]
        let constantNames: Set<String>
        /// Node indices reading each tensor.
        let consumers: [String: [Int]]
        /// Channel shuffles found at their first Reshape: the final Reshape's index -> (input, groups, first Reshape).
        var shuffleEnds: [Int: (input: String, groups: Int, start: Int)] = [:]
        /// LayerNormalizations over channels found at their first Transpose: the Transpose
        /// back's index -> (input, the LayerNormalization's index).
        var normalizerEnds: [Int: (input: String, norm: Int)] = [:]

        init(graph: Graph, facts: [String: ValueFacts]) {
            self.graph = graph
            self.facts = facts
            consumers = graph.readers
            let constantOutputs = graph.nodes.filter { $0.opType == "Constant" }.compactMap(\.outputs.first)
            constantNames = Set(graph.initializers.compactMap(\.name)).union(constantOutputs)
        }

        func channels(_ tensor: String) -> Int? {
            guard let f = facts[tensor], f.shape.count >= 2, f.dataType == nil || f.dataType == .float else { return nil }
            return f.shape[1]
        }

        mutating func newSpace(_ tensor: String, channels: Int, blocked: String? = nil) -> Int {
            let id = raw.count
            raw.append(Space(channels: channels, tensors: [tensor], producers: [], channelwise: [], constants: [], sinks: [], segments: [], blocked: blocked))
            parent.append(id)
            rawOf[tensor] = id
            return id
        }

        mutating func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }

        mutating func union(_ a: Int, _ b: Int) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }

        mutating func block(_ tensor: String, _ reason: String) {
            guard let s = rawOf[tensor] else { return }
            if raw[s].blocked == nil { raw[s].blocked = reason }
        }

        /// `output` joins the space of `input` (same channel indexing).
        mutating func join(_ output: String, to input: String) {
            guard let s = rawOf[input] else { return }
            rawOf[output] = s
            raw[s].tensors.append(output)
            if let c = channels(output), c != raw[s].channels { raw[s].blocked = raw[s].blocked ?? "'\(output)' changes the channel count" }
        }

        mutating func run() {
            for input in graph.inputs where !constantNames.contains(input.name) {
                if let c = channels(input.name) { _ = newSpace(input.name, channels: c, blocked: "graph input '\(input.name)'") }
            }
            for (index, node) in graph.nodes.enumerated() { visit(index, node) }
            for output in graph.outputs { block(output.name, "graph output '\(output.name)'") }
        }

        func isConstant(_ name: String?) -> Bool { name.map { $0.isEmpty || constantNames.contains($0) } ?? true }

        mutating func blockAll(_ node: Node, because reason: String) {
            for input in node.inputs where !input.isEmpty { block(input, reason) }
            for output in node.outputs where !output.isEmpty {
                if let c = channels(output) { _ = newSpace(output, channels: c, blocked: reason) }
            }
        }

        mutating func visit(_ index: Int, _ node: Node) {
            let tracked = node.inputs.filter { !$0.isEmpty && rawOf[$0] != nil }
            let what = "\(node.opType) '\(node.displayName)'"
            guard let output = node.outputs.first, !output.isEmpty else {
                for input in tracked { block(input, "read by \(what)") }
                return
            }
            if let shuffle = shuffleEnds[index], let x = rawOf[shuffle.input], let c = channels(output) {
                let s = newSpace(output, channels: c)
                raw[s].shuffles.append((x, shuffle.groups))
                raw[x].counts.append(CountConstant(node: shuffle.start, element: 2, offset: 0, count: c, divisor: shuffle.groups))
                raw[s].counts.append(CountConstant(node: index, element: 1, offset: 0, count: c, divisor: 1))
                return
            }
            if node.opType == "Reshape", let x = node.input(0), rawOf[x] != nil, let groups = channelShuffle(index, node) {
                shuffleEnds[groups.end] = (x, groups.groups, index)
                return
            }
            if let sandwich = normalizerEnds[index], rawOf[sandwich.input] != nil {
                join(output, to: sandwich.input)
                normalizer(sandwich.norm, space: rawOf[sandwich.input]!)
                return
            }
            if node.opType == "Transpose", let x = node.input(0), rawOf[x] != nil, let found = channelNormalization(index, node) {
                normalizerEnds[found.end] = (x, found.norm)
                return
            }
            switch node.opType {
            case "Conv":
                let weight = node.input(1).flatMap { name in facts[name] }
                guard isConstant(node.input(1)), isConstant(node.input(2)), let w = weight?.shape, w.count >= 3,
                      let x = node.input(0), let cin = channels(x), let cout = channels(output) else {
                    return blockAll(node, because: "\(what) has a weight that is not constant")
                }
                let group = node.int("group", default: 1)!
                if group == 1 {
                    if rawOf[x] != nil { raw[rawOf[x]!].sinks.append(Sink(node: index, input: 0, tensor: x)) }
                    let s = newSpace(output, channels: cout)
                    raw[s].producers.append(index)
                } else if group == cin && cout == cin && w[1] == 1 && rawOf[x] != nil {
                    join(output, to: x)
                    raw[rawOf[x]!].channelwise.append(index)
                } else {
                    blockAll(node, because: "grouped \(what)")
                }
            case "Gemm", "MatMul":
                let b = node.input(1).flatMap { facts[$0] }?.shape
                let transA = node.opType == "Gemm" ? node.int("transA", default: 0)! : 0
                var biasOK = true
                if node.opType == "Gemm", let c = node.input(2), !c.isEmpty {
                    let shape = facts[c]?.shape ?? []
                    biasOK = isConstant(c) && (shape.count <= 1 || (shape.count == 2 && shape[0] == 1))
                }
                guard transA == 0, isConstant(node.input(1)), b?.count == 2, biasOK, let x = node.input(0), let cout = channels(output) else {
                    return blockAll(node, because: "\(what) is not a 2-D layer with a constant weight")
                }
                guard facts[x]?.shape.count == 2 else {
                    return blockAll(node, because: "\(what) reads a \(facts[x]?.shape.count ?? 0)-D input (channels last); only 2-D inputs are followed")
                }
                if rawOf[x] != nil { raw[rawOf[x]!].sinks.append(Sink(node: index, input: 0, tensor: x)) }
                let s = newSpace(output, channels: cout)
                raw[s].producers.append(index)
            case "BatchNormalization":
                guard let x = node.input(0), rawOf[x] != nil, (1...4).allSatisfy({ isConstant(node.input($0)) }),
                      node.outputs.dropFirst().allSatisfy(\.isEmpty) else {
                    return blockAll(node, because: "\(what) in training mode or with computed statistics")
                }
                join(output, to: x)
                raw[rawOf[x]!].channelwise.append(index)
            case _ where ChannelDependency.unary.contains(node.opType):
                guard let x = node.input(0), rawOf[x] != nil else { return }
                join(output, to: x)
                for extra in node.outputs.dropFirst() where !extra.isEmpty { block(x, "\(what) has a second output") }
            case "Pow":
                // x^p with one constant exponent acts per element (GELU's tanh form cubes its input).
                guard let x = node.input(0), rawOf[x] != nil, let p = node.input(1), isConstant(p), facts[p]?.shape.reduce(1, *) == 1 else {
                    for input in tracked { block(input, "read by \(what)") }
                    return
                }
                join(output, to: x)
            case "Pad":
                guard let x = node.input(0), rawOf[x] != nil else { return }
                let rank = facts[x]?.shape.count ?? 0
                let pads = node.input(1).flatMap { facts[$0]?.values } ?? node.ints("pads")?.map(Double.init)
                guard let pads, pads.count == 2 * rank, pads[1] == 0, pads[1 + rank] == 0 else {
                    return blockAll(node, because: "\(what) may pad channels")
                }
                join(output, to: x)
            case "Flatten", "Reshape":
                guard let x = node.input(0), rawOf[x] != nil else { return }
                let shape = facts[x]?.shape ?? []
                var ok = shape.count >= 2 && shape.dropFirst(2).allSatisfy { $0 == 1 } && facts[output]?.shape.count == 2
                if node.opType == "Flatten" { ok = ok && node.int("axis", default: 1) == 1 }
                // A Reshape flattens with -1 for the channels (the target fits any count) or with the
                // channel count in a constant target, which is rewritten when channels go.
                let target = node.input(1).flatMap { facts[$0]?.values }
                let countsChannels = node.opType == "Reshape" && target?.count == 2 && target?[1] == Double(shape.count >= 2 ? shape[1] : -2)
                    && isConstant(node.input(1))
                if node.opType == "Reshape" { ok = ok && target?.count == 2 && (target?[1] == -1 || countsChannels) }
                guard ok else { return blockAll(node, because: "\(what) mixes channels with other axes") }
                join(output, to: x)
                if countsChannels, let s = rawOf[x] {
                    raw[s].counts.append(CountConstant(node: index, element: 1, offset: 0, count: shape[1], divisor: 1))
                }
            case _ where ChannelDependency.elementwiseOps.contains(node.opType):
                elementwise(index, node, what: what)
            case "Concat":
                let rank = facts[output]?.shape.count ?? 0
                var axis = node.int("axis", default: 1)!
                if axis < 0 { axis += rank }
                guard !tracked.isEmpty else { return }
                guard axis == 1, node.inputs.allSatisfy({ !$0.isEmpty && rawOf[$0] != nil }), let c = channels(output) else {
                    return blockAll(node, because: "\(what) joins tensors along another axis or with constants")
                }
                let s = newSpace(output, channels: c)
                var offset = 0
                for input in node.inputs {
                    raw[s].segments.append((rawOf[input]!, offset))
                    offset += channels(input) ?? 0
                }
            case "ReduceMean", "ReduceSum", "ReduceMax":
                // Pooling over spatial axes keeps the channel axis where it was.
                guard let x = node.input(0), rawOf[x] != nil else { return }
                let rank = facts[x]?.shape.count ?? 0
                let given = node.ints("axes") ?? node.input(1).flatMap { facts[$0]?.values }.map { $0.map { Int($0) } }
                let axes = Set((given ?? Array(0..<rank)).map { $0 < 0 ? $0 + rank : $0 })
                guard rank >= 3, !axes.contains(0), !axes.contains(1) else { return blockAll(node, because: "\(what) reduces over the channels") }
                join(output, to: x)
            case "Split":
                guard let x = node.input(0), rawOf[x] != nil else { return }
                let rank = facts[x]?.shape.count ?? 0
                var axis = node.int("axis", default: 0)!
                if axis < 0 { axis += rank }
                let sizes = node.ints("split") ?? node.input(1).flatMap { facts[$0]?.values }.map { $0.map { Int($0) } }
                guard axis == 1, let sizes, sizes.count == node.outputs.count, node.input(1).map(isConstant) ?? true,
                      sizes.reduce(0, +) == channels(x), node.outputs.allSatisfy({ !$0.isEmpty }) else {
                    return blockAll(node, because: "\(what) splits along another axis or without constant sizes")
                }
                let xs = rawOf[x]!
                var offset = 0
                for (k, out) in node.outputs.enumerated() {
                    let s = newSpace(out, channels: sizes[k])
                    raw[xs].segments.append((s, offset))
                    raw[xs].counts.append(CountConstant(node: index, element: k, offset: offset, count: sizes[k], divisor: 1))
                    offset += sizes[k]
                }
            case "LayerNormalization":
                // Over the channels of an [N, C] value (the dynamo exporter's classifier).
                guard let x = node.input(0), rawOf[x] != nil else { return }
                guard facts[x]?.shape.count == 2, [-1, 1].contains(node.int("axis", default: -1)!), node.outputs.dropFirst().allSatisfy(\.isEmpty) else {
                    return blockAll(node, because: "\(what) normalizes other axes than the channels")
                }
                join(output, to: x)
                normalizer(index, space: rawOf[x]!)
            case "Shape", "Size":
                return  // reads the shape only, which follows the channels
            default:
                for input in tracked { block(input, "read by \(what)") }
            }
        }

        /// The number of groups when the Reshape at `index` starts a channel shuffle: it reshapes
        /// [N, C, H, W] to [N, g, C/g, H, W] by a constant shape, its only reader is a Transpose
        /// with perm [0, 2, 1, 3, 4], and that Transpose's only reader a Reshape back to
        /// [N, C, H, W] by a constant shape; also the index of that last Reshape.
        func channelShuffle(_ index: Int, _ node: Node) -> (groups: Int, end: Int)? {
            guard let x = node.input(0), let shape = facts[x]?.shape, shape.count == 4, let out = node.outputs.first,
                  let split = facts[out]?.shape, split.count == 5, isConstant(node.input(1)),
                  split[0] == shape[0], split[1] * split[2] == shape[1], Array(split[3...]) == Array(shape[2...]),
                  let readers = consumers[out], readers.count == 1 else { return nil }
            let t = graph.nodes[readers[0]]
            guard t.opType == "Transpose", t.ints("perm") == [0, 2, 1, 3, 4], let tOut = t.outputs.first,
                  let next = consumers[tOut], next.count == 1 else { return nil }
            let back = graph.nodes[next[0]]
            guard back.opType == "Reshape", isConstant(back.input(1)), let b = back.outputs.first, facts[b]?.shape == shape else { return nil }
            return (split[1], next[0])
        }

        /// When the Transpose at `index` starts a LayerNormalization over channels: its perm is
        /// [0, 2, 3, 1], its only reader a LayerNormalization over the last axis (no Mean or
        /// InvStdDev outputs), whose only reader a Transpose with perm [0, 3, 1, 2]; that
        /// LayerNormalization's index and the last Transpose's.
        func channelNormalization(_ index: Int, _ node: Node) -> (norm: Int, end: Int)? {
            guard ChannelsLastToConv.isTranspose(node, [0, 2, 3, 1]), let readers = consumers[node.outputs[0]], readers.count == 1 else { return nil }
            let norm = graph.nodes[readers[0]]
            guard norm.opType == "LayerNormalization", norm.input(0) == node.outputs[0], [-1, 3].contains(norm.int("axis", default: -1)!),
                  norm.outputs.dropFirst().allSatisfy(\.isEmpty), let next = consumers[norm.outputs[0]], next.count == 1,
                  ChannelsLastToConv.isTranspose(graph.nodes[next[0]], [0, 3, 1, 2]) else { return nil }
            return (readers[0], next[0])
        }

        /// Records the LayerNormalization at `index` as a normalizer of raw space `s`, its scale
        /// and bias as per-channel constants; blocks the space when they are not one constant per channel.
        mutating func normalizer(_ index: Int, space s: Int) {
            let node = graph.nodes[index]
            raw[s].normalizers.append(index)
            for k in 1...2 {
                guard let name = node.input(k) else { continue }
                guard isConstant(name), facts[name]?.shape == [raw[s].channels] else {
                    raw[s].blocked = raw[s].blocked ?? "LayerNormalization '\(node.displayName)' has a scale or bias that is not one constant per channel"
                    continue
                }
                raw[s].constants.append(PerChannelConstant(node: index, input: k, axis: 0))
            }
        }

        mutating func elementwise(_ index: Int, _ node: Node, what: String) {
            guard let output = node.outputs.first, let c = channels(output), let outRank = facts[output]?.shape.count else {
                for input in node.inputs where rawOf[input] != nil { block(input, "\(what) has an output without channels") }
                return
            }
            var joined: [String] = []
            var constants: [PerChannelConstant] = []
            var problem: String?
            for (k, input) in node.inputs.enumerated() where !input.isEmpty {
                let shape = facts[input]?.shape ?? []
                let axis = shape.count - (outRank - 1)  // the input's axis under the output's channel axis
                let width = axis >= 0 && axis < shape.count ? shape[axis] : 1
                if rawOf[input] != nil, shape.count == outRank, width == c {
                    joined.append(input)
                } else if width == 1 || c == 1 {
                    continue  // broadcast along the channels
                } else if isConstant(input), width == c {
                    constants.append(PerChannelConstant(node: index, input: k, axis: axis))
                } else {
                    problem = "\(what) combines channels with a tensor of another layout"
                }
            }
            guard let first = joined.first else {
                if problem != nil || !constants.isEmpty {
                    for input in node.inputs where rawOf[input] != nil { block(input, problem ?? "\(what)") }
                }
                return
            }
            for other in joined.dropFirst() { union(rawOf[first]!, rawOf[other]!) }
            join(output, to: first)
            let s = rawOf[first]!
            raw[s].constants += constants
            if let problem { raw[s].blocked = raw[s].blocked ?? problem }
        }

        /// Merges spaces by root, renumbers them in graph order and forms the channel groups.
        mutating func finish() -> ChannelDependency {
            var number: [Int: Int] = [:]
            var spaces: [Space] = []
            for id in raw.indices {
                let root = find(id)
                if number[root] == nil {
                    number[root] = spaces.count
                    spaces.append(Space(channels: raw[root].channels, tensors: [], producers: [], channelwise: [], constants: [], sinks: [], segments: [], blocked: nil))
                }
            }
            for id in raw.indices {
                let n = number[find(id)]!
                let r = raw[id]
                spaces[n].tensors += r.tensors
                spaces[n].producers += r.producers
                spaces[n].channelwise += r.channelwise
                spaces[n].constants += r.constants
                spaces[n].sinks += r.sinks
                spaces[n].segments += r.segments.map { (number[find($0.space)]!, $0.offset) }
                spaces[n].shuffles += r.shuffles.map { (number[find($0.space)]!, $0.groups) }
                spaces[n].counts += r.counts
                spaces[n].normalizers += r.normalizers
                if r.channels != spaces[n].channels { spaces[n].blocked = spaces[n].blocked ?? "joins tensors of \(r.channels) and \(spaces[n].channels) channels" }
                spaces[n].blocked = spaces[n].blocked ?? r.blocked
            }
            for n in spaces.indices {
                spaces[n].producers.sort()
                spaces[n].channelwise.sort()
                spaces[n].normalizers.sort()
                spaces[n].sinks.sort { ($0.node, $0.input) < ($1.node, $1.input) }
            }
            var spaceOf: [String: Int] = [:]
            for (tensor, id) in rawOf { spaceOf[tensor] = number[find(id)]! }

            // Channel-level union: Concat channels are their segments' channels.
            var base: [Int] = []
            var total = 0
            for s in spaces {
                base.append(total)
                total += s.channels
            }
            var channelParent = Array(0..<total)
            func root(_ x: Int) -> Int {
                var x = x
                while channelParent[x] != x {
                    channelParent[x] = channelParent[channelParent[x]]
                    x = channelParent[x]
                }
                return x
            }
            for (n, s) in spaces.enumerated() {
                func unite(_ x: Int, _ y: Int) {
                    let (a, b) = (root(x), root(y))
                    if a != b { channelParent[max(a, b)] = min(a, b) }
                }
                for segment in s.segments {
                    for j in 0..<spaces[segment.space].channels where segment.offset + j < s.channels {
                        unite(base[n] + segment.offset + j, base[segment.space] + j)
                    }
                }
                // Shuffle: output channel i g + j is input channel j C/g + i; input channels i,
                // C/g + i, ... go together.
                for shuffle in s.shuffles where spaces[shuffle.space].channels == s.channels {
                    let g = shuffle.groups, perGroup = s.channels / g
                    for j in 0..<g {
                        for i in 0..<perGroup {
                            unite(base[n] + i * g + j, base[shuffle.space] + j * perGroup + i)
                            unite(base[shuffle.space] + j * perGroup + i, base[shuffle.space] + i)
                        }
                    }
                }
            }
            var members: [Int: [Channel]] = [:]
            var blockedRoots = Set<Int>()
            var producedRoots = Set<Int>()
            for (n, s) in spaces.enumerated() {
                for j in 0..<s.channels {
                    let r = root(base[n] + j)
                    members[r, default: []].append(Channel(space: n, channel: j))
                    if s.blocked != nil { blockedRoots.insert(r) }
                    if !s.producers.isEmpty { producedRoots.insert(r) }
                }
            }
            var groups: [[Channel]] = []
            var groupOf: [Channel: Int] = [:]
            var fixed = Array(repeating: 0, count: spaces.count)
            for r in members.keys.sorted() {
                let m = members[r]!.sorted()
                guard !blockedRoots.contains(r), producedRoots.contains(r) else {
                    for c in m { fixed[c.space] += 1 }
                    continue
                }
                for c in m { groupOf[c] = groups.count }
                groups.append(m)
            }
            return ChannelDependency(spaces: spaces, spaceOf: spaceOf, groups: groups, groupOf: groupOf, fixedChannels: fixed)
        }
    }
}
