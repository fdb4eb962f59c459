/// Conv (1-D and 2-D): groups, strides, dilations, explicit pads and auto_pad; optional bias;
/// an activation the executor fused into it is applied in the same pass over the output.
struct ConvOp: Operator {
    let node: Node
    let window: Window
    let groups: Int
    var activation: Activation = .none
    /// Zero padding of a Pad the executor fused into this conv: begin then end, per spatial axis.
    var extraPads: [Int]? = nil

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        window = try Window(node)
        groups = node.int("group", default: 1)!
        guard groups >= 1 else { throw EngineError(node, "group must be positive, got \(groups)") }
        if let w = context.constant(node, 1) {
            guard w.shape.count == 3 || w.shape.count == 4 else { throw EngineError(node, "weight shape \(w.shape) is not 3-D or 4-D") }
            guard w.shape[0] % groups == 0 else { throw EngineError(node, "\(w.shape[0]) filters do not split into \(groups) groups") }
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0), w = try node.required(inputs, 1)
        try x.requireFloat(node)
        try w.requireFloat(node, "weight")
        let g = try geometry(x, w)
        let cout = g.cout
        let bias = inputs.count > 2 ? inputs[2] : nil
        if let bias {
            try bias.requireFloat(node, "bias")
            guard bias.count == cout else { throw EngineError(node, "bias has \(bias.count) values for \(cout) filters") }
        }
        let outShape = x.shape.count == 3 ? [g.n, cout, g.outW] : [g.n, cout, g.outH, g.outW]
        let y = Value(uninitialized: .float, shape: outShape)
        x.withElements(as: Float.self) { xp in
            w.withElements(as: Float.self) { wp in
                y.withMutableElements(as: Float.self) { yp in
                    if let bias {
                        bias.withElements(as: Float.self) { bp in
                            ConvForward.run(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!,
                                            output: yp.baseAddress!, activation: activation)
                        }
                    } else {
                        ConvForward.run(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil,
                                        output: yp.baseAddress!, activation: activation)
                    }
                }
            }
        }
        return [y]
    }

    /// The 2-D geometry of this conv for input `x` and weight `w` (a fused Pad included).
    func geometry(_ x: Value, _ w: Value) throws(EngineError) -> ConvGeometry {
        let (n, cin, h, wd) = try x.planes(node)
        guard w.shape.count == x.shape.count, w.shape[1] * groups == cin, w.shape[0] % groups == 0 else {
            throw EngineError(node, "weight \(w.shape) does not fit input \(x.shape) with group \(groups)")
        }
        var window = self.window
        if let extraPads {
            // A fused Pad adds to the explicit pads (the executor fuses only with auto_pad NOTSET).
            window.pads = zip(window.pads ?? Array(repeating: 0, count: extraPads.count), extraPads).map { $0 + $1 }
        }
        let r = try window.resolve(node, spatial: Array(x.shape.dropFirst(2)), kernel: Array(w.shape.dropFirst(2)))
        return ConvGeometry(n: n, cin: cin, h: h, w: wd, cout: w.shape[0], kh: r.kh, kw: r.kw, strideH: r.strideH, strideW: r.strideW,
                            dilationH: r.dilationH, dilationW: r.dilationW, padTop: r.padTop, padLeft: r.padLeft,
                            padBottom: r.padBottom, padRight: r.padRight, groups: groups)
    }
}
