extension ChannelPruning {
    /// The masked graph for forward passes only: each mask whose readers all multiply its tensor
    /// by a weight of their own along its channels is taken out again and multiplied into those
    /// weights instead. The readers are `group` 1 Convs (weight axis 1), Gemms (axis 0, or 1
    /// with `transB`) and MatMuls (axis 0) whose weight is an initializer no other node reads.
    ///
    /// The two compute the same numbers, bit for bit: a reader's term `(x_c * m_c) * w_c`
    /// becomes `x_c * (w_c * m_c)`, and with `m_c` in {0, 1} both are `x_c * w_c` or a zero of
    /// the same sign, so every sum adds the same terms in the same order. The filter search
    /// validates each candidate this way, without a broadcast multiply over every masked
    /// activation; the mask gradients of its importance passes still need the masked graph.
    ///
    /// A centred mask (`Mask.mean`) is folded with its two Adds: its readers' weights take the
    /// mask and their biases the removed channels' means (`constantInputShift`), the same
    /// function up to rounding (`(x - mean) * m + mean` regrouped), and what
    /// `ChannelPruning.remove` writes for those channels.
    public struct MaskFolding: Sendable {
        /// The masked graph without the Muls of the folded masks (their readers read the
        /// unmasked tensor again, and the folded masks' initializers are gone).
        public let graph: Graph
        /// Per mask (as in `masks`): the weights it is folded into, with the axis of its
        /// channels; nil where its Mul stays.
        let targets: [[Target]?]
        let masks: [Mask]
        let weights: [String: Value]

        /// A reader a mask is folded into: its weight and the weight's axis of the channels,
        /// and for a centred mask its bias (created as zeros where it had none).
        struct Target {
            var weight: String
            var axis: Int
            var bias: String?
        }

        public init(masked: Graph, masks: [Mask]) {
            let initializers = masked.initializersByName, readers = masked.readers
            var graph = masked
            var taken = graph.usedNames
            var targets: [[Target]?] = []
            var weights: [String: Value] = [:]
            var dropped = Set<Int>(), droppedInitializers = Set<String>()
            for m in masks {
                // A statistics mask stays the LayerNormalization's input.
                guard !m.statistics, let mul = readers[m.initializer]?.first, readers[m.initializer]?.count == 1,
                      var product = masked.nodes[mul].outputs.first else { targets.append(nil); continue }
                // A centred mask: the Add before the Mul and the one after it go too.
                var around: [Int] = [], aroundInitializers: [String] = []
                if m.mean != nil {
                    guard let centred = masked.nodes[mul].input(0), let centre = masked.nodes.firstIndex(where: { $0.outputs.contains(centred) }),
                          readers[product]?.count == 1,
                          let uncentre = readers[product]?.first, let out = masked.nodes[uncentre].outputs.first,
                          let negated = masked.nodes[centre].input(1), let mean = masked.nodes[uncentre].input(1) else { targets.append(nil); continue }
                    around = [centre, uncentre]
                    aroundInitializers = [negated, mean]
                    product = out
                }
                let sinks = readers[product] ?? []
                let folded: [Target]? = sinks.isEmpty ? nil : sinks.reduce([]) { found, index in
                    guard let found, let target = Self.weightAxis(masked.nodes[index], reading: product, rank: m.shape.count),
                          let w = initializers[target.weight], w.dataType == .float, target.axis < w.dims.count,
                          w.dims[target.axis] == m.channels, readers[target.weight]?.count == 1,
                          m.mean == nil || ChannelPruning.takesMeans(masked.nodes[index], initializers) else { return nil }
                    return found + [Target(weight: target.weight, axis: target.axis, bias: nil)]
                }
                guard var folded else { targets.append(nil); continue }
                for target in folded { weights[target.weight] = Value(initializers[target.weight]!) }
                for (k, index) in sinks.enumerated() {
                    graph.nodes[index].inputs = graph.nodes[index].inputs.map { $0 == product ? m.tensor : $0 }
                    guard m.mean != nil else { continue }
                    // The bias takes the means: an existing one (which no other node may read), or zeros.
                    let outputs = folded[k].axis == 0 ? weights[folded[k].weight]!.shape[1] : weights[folded[k].weight]!.shape[0]
                    if let b = graph.nodes[index].input(2), !b.isEmpty, readers[b]?.count == 1, let t = initializers[b] {
                        weights[b] = Value(shape: [outputs], floats: t.floats)
                        folded[k].bias = b
                    } else {
                        let b = graph.freshName((graph.nodes[index].name ?? product) + "/bias.means", taken: &taken)
                        graph.initializers.append(Tensor(name: b, dims: [outputs], floats: Array(repeating: 0, count: outputs)))
                        graph.nodes[index].inputs = Array(graph.nodes[index].inputs.prefix(2)) + [b]
                        weights[b] = Value(shape: [outputs], floats: Array(repeating: 0, count: outputs))
                        folded[k].bias = b
                    }
                }
                targets.append(folded)
                dropped.insert(mul)
                dropped.formUnion(around)
                droppedInitializers.insert(m.initializer)
                droppedInitializers.formUnion(aroundInitializers)
            }
            graph.nodes = graph.nodes.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            graph.initializers.removeAll { $0.name.map(droppedInitializers.contains) ?? false }
            self.graph = graph
            self.targets = targets
            self.masks = masks
            self.weights = weights
        }

        /// The weight `node` multiplies its input `input` by, and that weight's axis of the
        /// input's channels; nil when it is not one of the readers above.
        static func weightAxis(_ node: Node, reading input: String, rank: Int) -> (weight: String, axis: Int)? {
            guard node.input(0) == input, !node.inputs.dropFirst().contains(input), let weight = node.input(1), !weight.isEmpty,
                  let axis = ChannelPruning.summedAxis(node) else { return nil }
            let fits = switch node.opType {
            case "Conv": node.int("group", default: 1) == 1 && rank > 2
            default: rank == 1 && node.int("transA", default: 0) == 0
            }
            return fits ? (weight, axis) : nil
        }

        /// The parameters that give `graph` the masks `values` (as `maskValues` returns them):
        /// the kept masks' values and the folded ones' weights with the masks multiplied in.
        public func parameters(_ values: [String: Value]) -> [String: Value] {
            var result: [String: Value] = [:]
            for (m, folded) in zip(masks, targets) {
                guard let v = values[m.initializer] else { continue }
                guard let folded else { result[m.initializer] = v; continue }
                let mask = v.floats
                for target in folded {
                    let w = weights[target.weight]!
                    let inner = w.shape.dropFirst(target.axis + 1).reduce(1, *), channels = w.shape[target.axis]
                    var e = w.floats
                    for start in stride(from: 0, to: e.count, by: inner) {
                        let factor = mask[(start / inner) % channels]
                        for i in start ..< start + inner { e[i] *= factor }
                    }
                    result[target.weight] = Value(shape: w.shape, floats: e)
                    if let bias = target.bias, let mean = m.mean {
                        let coefficients = (0..<channels).map { Double(1 - mask[$0]) * Double(mean[$0]) }
                        let shift = ChannelPruning.constantInputShift(w.floats, dims: w.shape, axis: target.axis, coefficients: coefficients)
                        let base = weights[bias]!
                        result[bias] = Value(shape: base.shape, floats: zip(base.floats, shift).map { Float(Double($0) + $1) })
                    }
                }
            }
            return result
        }
    }
}
