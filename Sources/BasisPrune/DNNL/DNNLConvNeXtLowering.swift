internal import CDNNL
internal import CDNNLKernels
import Foundation

/// The ops of ConvNeXt-style graphs once `ChannelsLastToConv` has rewritten their blocks
/// (issue 40): LayerNormalization over channels, written as Transpose to channels last,
/// LayerNormalization over the last axis and Transpose back (torchvision's `LayerNorm2d`), runs
/// as one step of our own on the blocked layout (`cdnnl_channel_norm`); GELU in its Erf or tanh
/// form (`GELUPattern`) runs as oneDNN's `gelu_erf` / `gelu_tanh` eltwise, fused into the conv
/// before it where that conv alone reads its input. In training GELU runs on its own (its
/// gradient reads its input) and the LayerNormalization's gradient is our own step
/// (`cdnnl_channel_norm_backward`).
extension DNNLForward.Lowering {
    /// The LayerNormalization and the Transpose back of a channels-last sandwich starting at
    /// Transpose `node`, if it is one the plan runs.
    func channelNorm(after node: Node) -> (norm: Node, output: String)? {
        guard ChannelsLastToConv.isTranspose(node, [0, 2, 3, 1]), plan.readers[node.outputs[0]] == 1,
              let norm = graph.nodes.first(where: { $0.inputs.first == node.outputs[0] }), norm.opType == "LayerNormalization",
              [-1, 3].contains(norm.int("axis", default: -1)!), norm.outputs.dropFirst().allSatisfy(\.isEmpty),
              plan.readers[norm.outputs[0]] == 1, let back = graph.nodes.first(where: { $0.inputs.first == norm.outputs[0] }),
              ChannelsLastToConv.isTranspose(back, [0, 3, 1, 2]) else { return nil }
        return (norm, back.outputs[0])
    }

    func lowerChannelNorm(_ node: Node) throws(Unsupported) {
        guard let (norm, output) = channelNorm(after: node) else {
            throw Unsupported(description: "\(node.displayName): Transpose other than around a LayerNormalization over channels")
        }
        let outDims = try shape(output)
        guard outDims.count == 4 else { throw Unsupported(description: "\(norm.displayName): LayerNormalization over channels of a non-4-D value") }
        let channels = outDims[1]
        let scale = try floats(norm.inputs[1], norm)
        let bias = try norm.input(2).map { name throws(Unsupported) in try floats(name, norm) }
        guard scale.count == channels, bias.map({ $0.count == channels }) ?? true else {
            throw Unsupported(description: "\(norm.displayName): scale or bias is not one per channel")
        }
        var source = (name: node.inputs[0], tensor: forward.tensors[node.inputs[0]]!)
        func normLayout() -> ChannelLayout? {
            ChannelLayout(dims: source.tensor.dims, md: source.tensor.md) ?? ChannelLayout(channelsLast: source.tensor.dims, md: source.tensor.md)
        }
        if normLayout() == nil {
            source = try inLayout(source.name, DNNLForward.md(source.tensor.dims, dnnl_abcd))
        }
        let layout = normLayout()!
        let y = try define(output, source.tensor.md, dims: outDims)
        read([source.name])
        absorbed.formUnion([norm.outputs[0], output])
        // Channel weights (input 3, only in filter pruning's masked graphs, `ChannelPruning.insertMasks`):
        // the statistics over the channels of weight 1. A parameter's buffer is filled before each pass.
        let weightsName = norm.input(3)
        let weights = try weightsName.map { name throws(Unsupported) in try floats(name, norm) }
        guard weights.map({ $0.count == channels }) ?? true else {
            throw Unsupported(description: "\(norm.displayName): channel weights are not one per channel")
        }
        let parameters = UnsafeMutablePointer<Float>.allocate(capacity: 3 * channels)
        parameters.initialize(from: scale.floats, count: channels)
        (parameters + channels).initialize(from: bias?.floats ?? [Float](repeating: 0, count: channels), count: channels)
        (parameters + 2 * channels).initialize(from: weights?.floats ?? [Float](repeating: 1, count: channels), count: channels)
        forward.ownedBuffers.append(UnsafeMutableRawPointer(parameters))
        let weightBuffer: UnsafeMutablePointer<Float>? = weightsName == nil ? nil : parameters + 2 * channels
        if let weightsName, let weightBuffer, forward.parameterNames.contains(weightsName) {
            forward.parameterBuffers[weightsName] = (UnsafeMutableRawPointer(weightBuffer), channels)
        }
        let epsilon = norm.float("epsilon", default: 1e-5)!
        let (xMemory, yMemory) = (source.tensor.memory!, y.memory!)
        forward.steps.append(DNNLForward.Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: xMemory),
                                                                     dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: yMemory)]) {
            var problem = cdnnl_channel_norm_problem(x: DNNLForward.handle(xMemory), scale: parameters, bias: parameters + channels,
                                                     weights: weightBuffer, y: DNNLForward.handle(yMemory), images: Int32(layout.images), channels: Int32(layout.channels),
                                                     positions: Int32(layout.positions), block: Int32(layout.block), epsilon: epsilon)
            cdnnl_channel_norm(&problem)
        })
        if training {
            forward.recipes.append(.channelNorm(DNNLForward.Recipe.ChannelNorm(x: node.inputs[0], input: xMemory, y: output, layout: layout,
                                                                               scale: parameters, weights: weightBuffer, epsilon: epsilon)))
        }
    }

    /// The eltwise of the GELU whose input is `value`, as an activation that writes its output.
    func geluActivation(_ value: String) -> DNNLForward.Activation? {
        guard let g = gelus[value] else { return nil }
        let node = Node(name: "GELU(\(value))", opType: "Gelu", inputs: [value], outputs: [g.output])
        return (node, g.form == .erf ? dnnl_eltwise_gelu_erf : dnnl_eltwise_gelu_tanh, 0, 0)
    }

    /// The nodes of a GELU are skipped once it ran (fused or on its own).
    func absorbGELU(_ value: String) {
        guard let g = gelus[value] else { return }
        for i in g.nodes { absorbed.formUnion(graph.nodes[i].outputs) }
    }

    /// A GELU not fused into the op before it: one eltwise step from its input to its output.
    func lowerGELU(_ value: String) throws(Unsupported) {
        guard let g = gelus[value], let e = geluActivation(value) else {
            throw Unsupported(description: "GELU of '\(value)' is not covered")
        }
        let outDims = try shape(g.output)
        var md = forward.tensors[value]!.md
        var desc = dnnl_eltwise_desc_t()
        try forward.check(dnnl_eltwise_forward_desc_init(&desc, propagation, e.alg, &md, 0, 0), "\(e.node.displayName): eltwise")
        // The pattern reads its input more than once; the step reads it once for all.
        let reads = g.nodes.reduce(0) { n, i in n + graph.nodes[i].inputs.filter { $0 == value }.count }
        plan.readers[value, default: 0] -= reads - 1
        if let kept = try sourceToDestination(&desc, input: value, output: g.output, dims: outDims, what: "\(e.node.displayName): eltwise") {
            forward.recipes.append(.eltwise(hint: kept, x: value, y: g.output, alg: e.alg, alpha: 0, beta: 0))
        }
        absorbGELU(value)
    }
}

extension ChannelLayout {
    /// A 4-D value in channels-last order (`acdb`, what oneDNN's convs pick on AVX-512) as one
    /// block of all its channels: channel c of position q at q * channels + c, which is how
    /// `cdnnl_channel_norm` indexes a block. For the channel norm only (the other kernels take
    /// blocks of 1, 8 or 16).
    init?(channelsLast dims: [Int], md: dnnl_memory_desc_t) {
        guard dims.count == 4, DNNLForward.equal(md, DNNLForward.md(dims, dnnl_acdb)) else { return nil }
        self.init(images: dims[0], channels: dims[1], positions: dims[2] * dims[3], block: dims[1])
    }
}
