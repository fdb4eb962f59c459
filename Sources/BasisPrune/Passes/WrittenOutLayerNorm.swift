/// Rewrites a LayerNorm over channels written out with ReduceMean into a LayerNormalization op,
/// the form the channel analysis and the oneDNN path know (issue 40).
///
/// Hugging Face's ConvNeXt (`ConvNextLayerNorm` with `channels_first`) and the original ConvNeXt
/// code normalize over channels by hand in their stem and downsampling layers:
/// `u = x.mean(1, keepdim=True); s = (x - u).pow(2).mean(1, keepdim=True);
/// x = (x - u) / torch.sqrt(s + eps); x = weight[:, None, None] * x + bias[:, None, None]`. The
/// exporter writes ReduceMean over axis 1, Sub (once or twice), Pow by 2, ReduceMean, Add of
/// epsilon, Sqrt, Div, Mul by a `[C, 1, 1]` weight and Add of a `[C, 1, 1]` bias. On a 4-D value
/// that is LayerNormalization over the channels, and it becomes one, between its own pair of
/// Transposes (`NAME/to_channels_last`, `NAME/to_channels_first`), as torchvision's `LayerNorm2d`
/// is written. Only at opset 17 and later (LayerNormalization's first), only where every
/// intermediate value is read by the pattern alone and is no graph output. The result is the
/// same function up to float rounding; the output value keeps its name.
public enum WrittenOutLayerNorm {
    public static let name = "WrittenOutLayerNorm"

    /// The graph with every match rewritten, and how many were.
    static func run(_ graph: Graph, opset: Int64) -> (graph: Graph, rewritten: Int) {
        guard opset >= 17, graph.nodes.contains(where: { $0.opType == "ReduceMean" }),
              let facts = try? ShapeInference(graph: graph, opset: opset).facts else { return (graph, 0) }
        var graph = graph
        var rewritten = 0
        var tried = Set<String>()
        // Readers, graph outputs and constants of the graph as it stands, made again after each rewrite.
        var context = Context(graph)
        while let start = graph.nodes.firstIndex(where: { $0.opType == "ReduceMean" && !tried.contains($0.outputs[0]) }) {
            tried.insert(graph.nodes[start].outputs[0])
            guard let match = Match(graph, start: start, facts: facts, context: context) else { continue }
            graph = match.apply(to: graph)
            context = Context(graph)
            rewritten += 1
        }
        return (rewritten > 0 ? graph.removingDeadCode() : graph, rewritten)
    }

    /// What matching reads of a graph: each value's readers, the graph outputs, and the
    /// constants (`Graph.constantInitializers`; `Simplify` has folded Constant nodes by then).
    struct Context {
        var readers: [String: [Int]]
        var outputs: Set<String>
        var constants: [String: Tensor]

        init(_ graph: Graph) {
            readers = graph.readers
            outputs = Set(graph.outputs.map(\.name))
            constants = graph.constantInitializers
        }
    }

    /// One written-out LayerNorm: its input, the nodes it spans, epsilon, and the weight and bias
    /// (as `[C]`), ending at the bias Add.
    struct Match {
        var input: String
        var nodes: Set<Int>
        var end: Int
        var epsilon: Float
        var scale: [Float]
        var bias: [Float]

        init?(_ graph: Graph, start: Int, facts: [String: ValueFacts], context: Context) {
            let (readers, outputs, constants) = (context.readers, context.outputs, context.constants)
            func only(_ value: String) -> Int? {
                guard !outputs.contains(value), let r = readers[value], r.count == 1 else { return nil }
                return r[0]
            }
            func scalar(_ name: String?) -> Float? {
                guard let name, let t = constants[name], t.dataType == .float, t.elementCount == 1 else { return nil }
                return t.floats[0]
            }
            /// The float constant that Mul or Add `node` combines `value` with.
            func other(_ node: Node, than value: String) -> Tensor? {
                guard node.inputs.count == 2 else { return nil }
                let name = node.inputs[0] == value ? node.inputs[1] : node.inputs[1] == value ? node.inputs[0] : nil
                return name.flatMap { constants[$0] }.flatMap { $0.dataType == .float ? $0 : nil }
            }
            func meanOverChannels(_ node: Node) -> Bool {
                guard node.opType == "ReduceMean", node.int("keepdims", default: 1) == 1 else { return false }
                let axes = node.ints("axes") ?? node.input(1).flatMap { constants[$0]?.doubleValues() }.map { $0.map { Int($0) } }
                return axes == [1]
            }
            let mean = graph.nodes[start]
            guard meanOverChannels(mean), let x = mean.input(0), facts[x]?.shape.count == 4, let channels = facts[x]?.shape[1],
                  !outputs.contains(mean.outputs[0]), let subs = readers[mean.outputs[0]], !subs.isEmpty,
                  subs.allSatisfy({ graph.nodes[$0].opType == "Sub" && graph.nodes[$0].inputs == [x, mean.outputs[0]] }) else { return nil }
            let centred = Set(subs.map { graph.nodes[$0].outputs[0] })
            guard centred.allSatisfy({ !outputs.contains($0) }) else { return nil }
            // The centred value's readers: the Pow (variance) and the Div (normalisation).
            let centredReaders = centred.flatMap { readers[$0] ?? [] }
            guard centredReaders.count == 2, let pow = centredReaders.first(where: { graph.nodes[$0].opType == "Pow" }),
                  let div = centredReaders.first(where: { graph.nodes[$0].opType == "Div" }),
                  centred.contains(graph.nodes[pow].inputs[0]), scalar(graph.nodes[pow].input(1)) == 2,
                  centred.contains(graph.nodes[div].inputs[0]), !centred.contains(graph.nodes[div].inputs[1]),
                  let variance = only(graph.nodes[pow].outputs[0]), meanOverChannels(graph.nodes[variance]),
                  let addEpsilon = only(graph.nodes[variance].outputs[0]), graph.nodes[addEpsilon].opType == "Add",
                  let epsilon = other(graph.nodes[addEpsilon], than: graph.nodes[variance].outputs[0]).flatMap({ $0.elementCount == 1 ? $0.floats[0] : nil }),
                  let sqrt = only(graph.nodes[addEpsilon].outputs[0]), graph.nodes[sqrt].opType == "Sqrt",
                  only(graph.nodes[sqrt].outputs[0]) == div, graph.nodes[div].inputs[1] == graph.nodes[sqrt].outputs[0],
                  let mul = only(graph.nodes[div].outputs[0]), graph.nodes[mul].opType == "Mul",
                  let weight = other(graph.nodes[mul], than: graph.nodes[div].outputs[0]),
                  let add = only(graph.nodes[mul].outputs[0]), graph.nodes[add].opType == "Add",
                  let b = other(graph.nodes[add], than: graph.nodes[mul].outputs[0]) else { return nil }
            // Weight and bias one per channel along axis 1 of the 4-D value: [C, 1, 1] or [1, C, 1, 1].
            func perChannel(_ t: Tensor) -> [Float]? {
                t.dims == [channels, 1, 1] || t.dims == [1, channels, 1, 1] ? t.floats : nil
            }
            guard let scale = perChannel(weight), let bias = perChannel(b) else { return nil }
            input = x
            nodes = Set([start, pow, variance, addEpsilon, sqrt, div, mul, add] + subs)
            end = add
            self.epsilon = epsilon
            self.scale = scale
            self.bias = bias
        }

        /// `graph` with the matched nodes replaced by the Transpose / LayerNormalization /
        /// Transpose sandwich at the bias Add's place.
        func apply(to graph: Graph) -> Graph {
            var graph = graph
            var taken = graph.usedNames
            let last = graph.nodes[end]
            let base = last.name.flatMap { $0.isEmpty ? nil : $0 } ?? last.outputs[0]
            let name = graph.freshName(base + "/LayerNormalization", taken: &taken)
            let scaleName = graph.freshName(name + ".scale", taken: &taken), biasName = graph.freshName(name + ".bias", taken: &taken)
            let channelsLast = graph.freshName(name + "/input/channels_last", taken: &taken)
            let normalized = graph.freshName(name + "/output/channels_last", taken: &taken)
            graph.initializers.append(Tensor(name: scaleName, dims: [scale.count], floats: scale))
            graph.initializers.append(Tensor(name: biasName, dims: [bias.count], floats: bias))
            let sandwich = [
                Node(name: graph.freshName(name + "/to_channels_last", taken: &taken), opType: "Transpose", inputs: [input], outputs: [channelsLast],
                     attributes: [Attribute(name: "perm", value: .ints([0, 2, 3, 1]))]),
                Node(name: name, opType: "LayerNormalization", inputs: [channelsLast, scaleName, biasName], outputs: [normalized],
                     attributes: [Attribute(name: "axis", value: .int(-1)), Attribute(name: "epsilon", value: .float(epsilon))]),
                Node(name: graph.freshName(name + "/to_channels_first", taken: &taken), opType: "Transpose", inputs: [normalized], outputs: [last.outputs[0]],
                     attributes: [Attribute(name: "perm", value: .ints([0, 3, 1, 2]))]),
            ]
            var result: [Node] = []
            for (i, node) in graph.nodes.enumerated() {
                if i == end { result += sandwich } else if !nodes.contains(i) { result.append(node) }
            }
            graph.nodes = result
            return graph
        }
    }
}
