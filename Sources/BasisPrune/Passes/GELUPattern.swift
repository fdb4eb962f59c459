import Foundation

/// GELU written out in elementwise ops, as PyTorch's exporters write `nn.GELU` before opset 20:
/// the Erf form `x * 0.5 * (1 + erf(x / sqrt 2))` and the tanh form
/// `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`, in whatever order and association
/// of the products the exporter picked (the TorchScript and dynamo exporters differ).
///
/// A match is a set of nodes of Add, Sub, Mul, Div, Pow, Sqrt and exactly one Erf or one Tanh
/// whose inputs are the input value, values of the set, or float constants of one element; of
/// the set's values only one, the output, is read outside it. The set then computes a function
/// of one real variable with the constants it holds; it is taken for GELU when that function
/// equals the form's formula within 1e-6 (relative to max(1, |x|)) at every x in -8, -7.75, ...,
/// 8, evaluated in double precision. The oneDNN path runs a match as one eltwise
/// (`gelu_erf` or `gelu_tanh`), fused into the conv before it where it can.
struct GELUPattern: Sendable {
    enum Form: Sendable { case erf, tanh }
    var form: Form
    var input: String
    var output: String
    /// Indices of the nodes it is made of, in graph order.
    var nodes: [Int]

    static let ops: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Tanh"]
    static let maxNodes = 12

    /// Every match in `graph`, by input value.
    static func all(in graph: Graph, constants: [String: Float]) -> [String: GELUPattern] {
        let readers = graph.readers
        let outputs = Set(graph.outputs.map(\.name))
        var found: [String: GELUPattern] = [:]
        var candidates = Set<String>()
        for node in graph.nodes where node.opType == "Erf" || node.opType == "Tanh" {
            // The input is read by the chain leading to the Erf/Tanh: walk back through it.
            var v = node.inputs.first ?? ""
            var steps = 0
            while steps < 6, let p = graph.nodes.firstIndex(where: { $0.outputs.contains(v) }), ops.contains(graph.nodes[p].opType) {
                candidates.insert(v)
                guard let next = graph.nodes[p].inputs.first(where: { constants[$0] == nil }) else { break }
                v = next
                steps += 1
            }
            candidates.insert(v)
        }
        for v in candidates where constants[v] == nil {
            if let m = match(graph, input: v, readers: readers, constants: constants, outputs: outputs) { found[v] = m }
        }
        return found
    }

    static func match(_ graph: Graph, input v: String, readers: [String: [Int]], constants: [String: Float],
                      outputs: Set<String>) -> GELUPattern? {
        var inside = Set<Int>(), values: Set<String> = [v]
        var changed = true
        while changed {
            changed = false
            for value in values {
                for r in readers[value] ?? [] where !inside.contains(r) {
                    let node = graph.nodes[r]
                    guard ops.contains(node.opType), (node.domain ?? "").isEmpty, node.outputs.count == 1,
                          node.inputs.count == (["Sqrt", "Erf", "Tanh"].contains(node.opType) ? 1 : 2),
                          node.inputs.allSatisfy({ values.contains($0) || constants[$0] != nil }) else { continue }
                    inside.insert(r)
                    values.insert(node.outputs[0])
                    changed = true
                }
            }
            if inside.count > maxNodes { return nil }
        }
        let nodes = inside.sorted()
        let erfs = nodes.filter { graph.nodes[$0].opType == "Erf" }.count, tanhs = nodes.filter { graph.nodes[$0].opType == "Tanh" }.count
        guard erfs + tanhs == 1 else { return nil }
        // One value of the set leaves it.
        let produced = nodes.map { graph.nodes[$0].outputs[0] }
        let leaving = produced.filter { o in outputs.contains(o) || (readers[o] ?? []).contains { !inside.contains($0) } }
        guard leaving.count == 1, let output = leaving.first else { return nil }
        let form: Form = erfs == 1 ? .erf : .tanh
        for step in -32...32 {
            let x = Double(step) / 4
            guard let y = evaluate(graph, nodes: nodes, input: v, x: x, constants: constants)[output] else { return nil }
            let expected = form == .erf ? 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
                : 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            guard abs(y - expected) <= 1e-6 * max(1, abs(x)) else { return nil }
        }
        return GELUPattern(form: form, input: v, output: output, nodes: nodes)
    }

    /// The set's values at input `x`, in double precision.
    static func evaluate(_ graph: Graph, nodes: [Int], input: String, x: Double, constants: [String: Float]) -> [String: Double] {
        var env: [String: Double] = [input: x]
        for i in nodes {
            let node = graph.nodes[i]
            let a = node.inputs.map { env[$0] ?? constants[$0].map(Double.init) ?? .nan }
            let y: Double
            switch node.opType {
            case "Add": y = a[0] + a[1]
            case "Sub": y = a[0] - a[1]
            case "Mul": y = a[0] * a[1]
            case "Div": y = a[0] / a[1]
            case "Pow": y = pow(a[0], a[1])
            case "Sqrt": y = a[0].squareRoot()
            case "Erf": y = erf(a[0])
            default: y = tanh(a[0])
            }
            env[node.outputs[0]] = y
        }
        return env
    }
}
