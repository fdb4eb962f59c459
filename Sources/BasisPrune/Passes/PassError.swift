/// Why a graph rewrite failed. One line naming the pass and the node.
public struct PassError: Error, CustomStringConvertible, Equatable {
    public var pass: String
    public var node: String
    public var reason: String

    public init(pass: String, node: String, reason: String) {
        self.pass = pass
        self.node = node
        self.reason = reason
    }

    public var description: String { "\(pass): node '\(node)': \(reason)" }
}

extension Graph {
    /// Float32 values of the initializer `name`, if it is one.
    func floatInitializer(_ name: String) -> Tensor? {
        initializers.first { $0.name == name && $0.dataType == .float }
    }

    /// The indices of the nodes that read each value, in order, each node once.
    var readers: [String: [Int]] {
        var readers: [String: [Int]] = [:]
        for (i, node) in nodes.enumerated() { for input in Set(node.inputs) where !input.isEmpty { readers[input, default: []].append(i) } }
        return readers
    }

    /// How many times each value is read by nodes, plus once for each graph output.
    var readCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for node in nodes { for input in node.inputs where !input.isEmpty { counts[input, default: 0] += 1 } }
        for output in outputs { counts[output.name, default: 0] += 1 }
        return counts
    }

    /// A copy without initializers that no node reads and without nodes whose outputs nothing
    /// reads (repeated until nothing changes); graph inputs and outputs stay, except the inputs
    /// that only declared a removed initializer (IR < 4 lists every initializer as an input).
    public func removingDeadCode() -> Graph {
        var graph = self
        while true {
            let counts = graph.readCounts
            let nodes = graph.nodes.filter { node in node.outputs.contains { !$0.isEmpty && counts[$0, default: 0] > 0 } }
            let initializers = graph.initializers.filter { counts[$0.name ?? "", default: 0] > 0 }
            let removed = Set(graph.initializers.compactMap(\.name)).subtracting(initializers.compactMap(\.name))
            graph.inputs.removeAll { removed.contains($0.name) }
            if nodes.count == graph.nodes.count && initializers.count == graph.initializers.count {
                let produced = Set(graph.nodes.flatMap(\.outputs)).union(graph.inputs.map(\.name))
                graph.valueInfo = graph.valueInfo.filter { produced.contains($0.name) }
                return graph
            }
            graph.nodes = nodes
            graph.initializers = initializers
        }
    }

    /// A name not yet used by any value or node of the graph, derived from `base`.
    func freshName(_ base: String, taken: inout Set<String>) -> String {
        var name = base
        var i = 1
        while taken.contains(name) {
            name = "\(base)_\(i)"
            i += 1
        }
        taken.insert(name)
        return name
    }

    /// Every value and node name in use.
    var usedNames: Set<String> {
        var names = Set(initializers.compactMap(\.name))
        for input in inputs { names.insert(input.name) }
        for node in nodes {
            names.formUnion(node.outputs)
            if let name = node.name { names.insert(name) }
        }
        return names
    }
}

extension Tensor {
    /// The float32 values.
    var floats: [Float] { storage.withUnsafeBufferPointer(as: Float.self) { Array($0.prefix(elementCount)) } }
}
