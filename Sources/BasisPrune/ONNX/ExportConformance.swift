/// What a model must look like to be valid at its own IR version and opset, applied by the
/// exporter to every model it writes (passes create nodes and initializers the way the newest
/// versions allow). A model that already conforms is returned unchanged, so round trips stay
/// byte-identical.
extension Model {
    public func conformingToItsVersions() -> Model {
        var model = self
        let opset = defaultOpsetVersion ?? 21
        if opset < 11 { model.graph.addMissingGemmBias(opset: opset) }
        model.graph.declareInitializerInputsAsStored()
        // IR < 4: every initializer is also a graph input, with its type and shape.
        if irVersion < 4 { model.graph.listInitializersAsInputs() }
        return model
    }
}

extension Graph {
    /// Gemm's C is required before opset 11: a Gemm without it gets zeros of shape [N]. Before
    /// opset 7 C broadcasts only with `broadcast = 1`, which a Gemm with a 1-D C then gets.
    mutating func addMissingGemmBias(opset: Int64) {
        var taken = usedNames
        var added: [Tensor] = []
        for index in nodes.indices where nodes[index].opType == "Gemm" && (nodes[index].input(2) == nil) {
            let node = nodes[index]
            guard let bName = node.input(1), let b = initializers.first(where: { $0.name == bName }), b.dims.count == 2 else { continue }
            let columns = node.int("transB", default: 0)! != 0 ? b.dims[0] : b.dims[1]
            let name = freshName("\(node.displayName)/C", taken: &taken)
            added.append(Tensor(name: name, dims: [columns], floats: Array(repeating: 0, count: columns)))
            nodes[index].inputs = Array(node.inputs.prefix(2)) + [name]
        }
        initializers += added
        guard opset < 7 else { return }
        for index in nodes.indices where nodes[index].opType == "Gemm" && nodes[index].attribute("broadcast") == nil {
            guard let c = nodes[index].input(2), let bias = (initializers.first { $0.name == c }), bias.dims.count < 2 else { continue }
            nodes[index].attributes.append(Attribute(name: "broadcast", value: .int(1)))
        }
    }

    /// Graph inputs that name an initializer declare the shape it has now (a pass may have
    /// sliced it).
    mutating func declareInitializerInputsAsStored() {
        let dims = Dictionary(initializers.compactMap { t in t.name.map { ($0, t.dims) } }, uniquingKeysWith: { a, _ in a })
        for index in inputs.indices {
            guard let stored = dims[inputs[index].name], var tensor = inputs[index].type?.tensor, let shape = tensor.shape,
                  shape.count != stored.count || zip(shape, stored).contains(where: { pair in pair.0.knownSize.map { $0 != pair.1 } ?? false })
            else { continue }
            tensor.shape = stored.map { Dimension(.known(Int64($0))) }
            inputs[index].type?.tensor = tensor
        }
    }

    /// Adds a graph input for each initializer that is not one, typed by the tensor.
    mutating func listInitializersAsInputs() {
        let listed = Set(inputs.map(\.name))
        for tensor in initializers {
            guard let name = tensor.name, !listed.contains(name) else { continue }
            let shape = tensor.dims.map { Dimension(.known(Int64($0))) }
            inputs.append(ValueInfo(name: name, type: TypeInfo(tensor: TypeInfo.TensorType(elementType: tensor.dataType.rawValue, shape: shape))))
        }
    }
}
