/// MaxPool and AveragePool (1-D and 2-D: pads, auto_pad, ceil_mode, count_include_pad,
/// dilations), GlobalAveragePool and GlobalMaxPool, over float32.
struct PoolOp: Operator {
    enum Kind { case max, average }

    let node: Node
    let kind: Kind
    let window: Window
    let ceilMode: Bool
    let countIncludePad: Bool

    init(node: Node, kind: Kind) throws(EngineError) {
        self.node = node
        self.kind = kind
        window = try Window(node)
        guard window.kernel != nil else { throw EngineError(node, "kernel_shape is required") }
        ceilMode = node.int("ceil_mode", default: 0)! != 0
        countIncludePad = node.int("count_include_pad", default: 0)! != 0
        if node.int("storage_order", default: 0)! != 0 { throw EngineError(node, "storage_order 1 is not supported") }
        if node.outputs.count > 1 && !node.outputs[1].isEmpty { throw EngineError(node, "the Indices output is not supported") }
        if kind == .average, window.dilations?.contains(where: { $0 != 1 }) == true {
            throw EngineError(node, "AveragePool with dilations is not supported")
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        let g = try geometry(x)
        let y = Value(uninitialized: .float, shape: x.shape.count == 3 ? [g.n, g.c, g.outW] : [g.n, g.c, g.outH, g.outW])
        x.withElements(as: Float.self) { xp in
            y.withMutableElements(as: Float.self) { yp in
                switch kind {
                case .max: Pooling.maxPool(g, input: xp.baseAddress!, output: yp.baseAddress!)
                case .average: Pooling.averagePool(g, countIncludePad: countIncludePad, input: xp.baseAddress!, output: yp.baseAddress!)
                }
            }
        }
        return [y]
    }

    /// The pool geometry for input `x`.
    func geometry(_ x: Value) throws(EngineError) -> PoolGeometry {
        let (n, c, h, w) = try x.planes(node)
        let spatial = Array(x.shape.dropFirst(2))
        let r = try window.resolve(node, spatial: spatial, kernel: [])
        var g = PoolGeometry(n: n, c: c, h: h, w: w, kh: r.kh, kw: r.kw, strideH: r.strideH, strideW: r.strideW,
                             padTop: r.padTop, padLeft: r.padLeft, padBottom: r.padBottom, padRight: r.padRight,
                             dilationH: r.dilationH, dilationW: r.dilationW, ceilMode: ceilMode)
        if window.autoPad.hasPrefix("SAME") {
            // SAME output size is ceil(in / stride) whatever ceil_mode says.
            g.ceilMode = false
        }
        guard g.isValid, g.outH > 0, g.outW > 0 else { throw EngineError(node, "pool window does not fit input \(x.shape)") }
        return g
    }
}

/// GlobalAveragePool and GlobalMaxPool over every spatial dimension.
struct GlobalPoolOp: Operator {
    let node: Node
    let isMax: Bool

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        guard x.shape.count >= 2 else { throw EngineError(node, "input shape \(x.shape) has no channels") }
        let n = x.shape[0], c = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        guard plane > 0 else { throw EngineError(node, "input shape \(x.shape) has an empty spatial extent") }
        let y = Value(uninitialized: .float, shape: [n, c] + Array(repeating: 1, count: x.shape.count - 2))
        x.withElements(as: Float.self) { xp in
            y.withMutableElements(as: Float.self) { yp in
                if isMax {
                    Pooling.globalMaxPool(input: xp.baseAddress!, output: yp.baseAddress!, n: n, c: c, plane: plane)
                } else {
                    Pooling.globalAveragePool(input: xp.baseAddress!, output: yp.baseAddress!, n: n, c: c, plane: plane)
                }
            }
        }
        return [y]
    }
}
