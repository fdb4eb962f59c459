extension Graph {
    /// Every name a node of this graph (or of a subgraph) reads is defined: by a graph input, an
    /// initializer, a node output, or, for subgraphs, by the enclosing scopes.
    /// Throws `danglingInput` for the first name that is not.
    public func checkReferences(file: String, outerScope: Set<String> = []) throws(ONNXError) {
        var defined = outerScope
        for input in inputs { defined.insert(input.name) }
        for tensor in initializers { if let name = tensor.name { defined.insert(name) } }
        for node in nodes { for output in node.outputs where !output.isEmpty { defined.insert(output) } }
        for node in nodes {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                throw ONNXError(file: file, .danglingInput(node: node.displayName, input: input))
            }
            for attribute in node.attributes {
                switch attribute.value {
                case .graph(let body): try body.checkReferences(file: file, outerScope: defined)
                case .graphs(let bodies):
                    for body in bodies { try body.checkReferences(file: file, outerScope: defined) }
                default: break
                }
            }
        }
    }
}
