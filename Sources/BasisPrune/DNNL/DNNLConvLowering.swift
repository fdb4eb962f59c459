internal import CDNNL
internal import CDNNLKernels
import Foundation

/// Convs and matrix products of the forward plan, with what they absorb: a Mul by a constant
/// per output channel folded into the weights and bias (`foldScales`), and the activation that
/// alone reads their output fused into the step (`fuseActivation`).
extension DNNLForward.Lowering {
    typealias Unsupported = DNNLForward.Unsupported
    typealias Tensor = DNNLForward.Tensor

    /// A Conv's operands once a Mul folded into it has scaled its weights and bias and the
    /// kernel taps that only ever see padding are cropped.
    struct ConvOperands {
        var x: String
        var w: Value
        var b: Value?
        /// The value the conv writes: its output, or the folded Mul's.
        var output: String
        var strides: [Int]
        var pads: [Int]
        var inDims: [Int]
        var weightDims: [Int]
        var plainWeights: dnnl_memory_desc_t
        var bias: dnnl_memory_desc_t
        /// A conv whose kernel covers its whole unpadded input (1x1 on a 1x1 plane): a matrix product.
        var dense: Bool
    }

    /// A Mul by a per-output-channel constant (the split's scaling factors) that alone reads
    /// a Conv's output is folded into that Conv's weights and bias.
    func foldScales() {
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for output in node.outputs { producer[output] = i } }
        for node in graph.nodes where node.opType == "Mul" && node.inputs.count == 2 {
            for (i, j) in [(0, 1), (1, 0)] {
                let x = node.inputs[i], c = node.inputs[j]
                guard constants[x] == nil, !forward.parameterNames.contains(c), let scale = constants[c], scale.dataType == .float, plan.readers[x] == 1,
                      let p = producer[x], graph.nodes[p].opType == "Conv", let w = constants[graph.nodes[p].inputs[1]], w.shape.count == 4,
                      scale.count == w.shape[0] || scale.count == 1,
                      scale.shape.count <= 3 || (scale.shape.count == 4 && scale.shape[0] == 1 && scale.shape[2] == 1 && scale.shape[3] == 1),
                      scale.shape.count < 3 || scale.shape[scale.shape.count - 2] == 1,
                      scale.shape.count != 1 || scale.count == 1 else { continue }
                let values = scale.floats
                scaleOf[x] = (scale.count == 1 ? Array(repeating: values[0], count: w.shape[0]) : values, node.outputs[0])
                absorbed.insert(node.outputs[0])
                break
            }
        }
    }

    func lowerConv(_ node: Node, output: String, outDims: [Int]) throws(Unsupported) {
        let c = try convOperands(node, output: output, outDims: outDims)
        let (x, w, inDims) = (c.x, c.w, c.inDims)
        let cout = w.shape[0]
        // A matrix product fuses only a clamp (Relu, Clip); another activation runs on its own.
        let (result, fused) = fuseActivation(after: c.output, clampOnly: c.dense)
        let fusedEltwise = fused.map { ($0.alg, $0.alpha, $0.beta) }
        let biasValues = c.b?.floats ?? [Float](repeating: 0, count: cout)
        // At batch 1 on a 1x1 plane (the last stages at small inputs) the product reads
        // each weight once, so it is bound by how fast weights stream in: a loop of our
        // own (`cdnnl_gemv`, on oneDNN's OpenMP threads) reads them faster than oneDNN's
        // inner product did, and than `cdnnl_dense` with one row on the larger shapes
        // (measured on this model's shapes, 2 threads). Channel c is at offset c in every
        // layout the plan uses for one image on one position.
        if c.dense, !training, inDims[0] == 1, inDims[2] * inDims[3] == 1, let source = forward.tensors[x],
           ChannelLayout(dims: source.dims, md: source.md) != nil, let clamp = DNNLForward.clampOf(fusedEltwise) {
            try gemv(node, c, source: source, biasValues: biasValues, result: result, outDims: outDims, clamp: clamp)
            return
        }
        if c.dense {
            let product = try denseProduct(result, DNNLForward.md([outDims[0], cout], dnnl_ab), outDims: outDims, node)
            try matrixProduct(x, w.floats, outputs: cout, bias: biasValues, into: product, output: result, eltwise: fusedEltwise)
            return
        }
        var anyWeights = DNNLForward.md(c.weightDims, dnnl_format_tag_any)
        var anySource = DNNLForward.md(inDims, dnnl_format_tag_any)
        var anyDest = DNNLForward.md(outDims, dnnl_format_tag_any)
        var bias = c.bias
        var desc = dnnl_convolution_desc_t()
        try forward.check(dnnl_convolution_forward_desc_init(&desc, propagation, dnnl_convolution_direct, &anySource, &anyWeights,
                                                             &bias, &anyDest, DNNLForward.dims(c.strides), DNNLForward.dims([c.pads[0], c.pads[1]]),
                                                             DNNLForward.dims([c.pads[2], c.pads[3]])), "\(node.displayName): conv descriptor")
        let attr = Self.postOps(fused)
        defer { dnnl_primitive_attr_destroy(attr) }
        var pd: dnnl_primitive_desc_t?
        try forward.check(dnnl_primitive_desc_create(&pd, &desc, attr, forward.engine, nil), "\(node.displayName): conv")
        defer { dnnl_primitive_desc_destroy(pd) }
        let source = try inLayout(x, queried(pd, dnnl_query_src_md))
        let weights = try forward.constant(w.floats, plain: c.plainWeights, wanted: queried(pd, dnnl_query_weights_md))
        let biasMemory = try forward.constantMemory(bias, biasValues)
        let product = try define(result, queried(pd, dnnl_query_dst_md), dims: outDims)
        read([source.name])
        try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: source.tensor.memory), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights),
                     dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: biasMemory), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: product.memory)], "conv")
        if training {
            forward.recipes.append(.conv(DNNLForward.Recipe.Conv(hint: try hint(pd), x: x, y: result, weights: w, weightDims: c.weightDims,
                                                                 strides: c.strides, pads: c.pads, eltwise: fusedEltwise)))
        }
    }

    /// The operands of Conv `node` (writing `output` of `outDims`), checked for what this path covers.
    func convOperands(_ node: Node, output: String, outDims: [Int]) throws(Unsupported) -> ConvOperands {
        let x = node.inputs[0]
        var w = try floats(node.inputs[1], node)
        guard w.shape.count == 4 else { throw Unsupported(description: "\(node.displayName): only 2-D convs are covered") }
        var b: Value?
        if let name = node.input(2) { b = try floats(name, node) }
        var output = output
        if let scale = scaleOf[output] {
            let perFilter = w.count / w.shape[0]
            let scaled = w.floats.enumerated().map { $0.element * scale.values[$0.offset / perFilter] }
            w = Value(shape: w.shape, floats: scaled)
            b = Value(shape: [w.shape[0]], floats: (0..<w.shape[0]).map { (b?.floats[$0] ?? 0) * scale.values[$0] })
            output = scale.output
        }
        let group = node.int("group", default: 1)!
        if let d = node.ints("dilations"), d.contains(where: { $0 != 1 }) {
            throw Unsupported(description: "\(node.displayName): dilated convs are not covered")
        }
        if let a = node.string("auto_pad"), a != "NOTSET" { throw Unsupported(description: "\(node.displayName): auto_pad \(a)") }
        let strides = node.ints("strides") ?? [1, 1]
        var pads = node.ints("pads") ?? [0, 0, 0, 0]
        let inDims = forward.tensors[x]!.dims
        // Kernel taps that only ever see padding go (a 5x5 depthwise conv on a 1x1
        // plane is a 1x1 conv), which oneDNN's direct kernels need.
        (w, pads) = DNNLForward.cropped(w, pads: pads, strides: strides, input: [inDims[2], inDims[3]], output: [outDims[2], outDims[3]])
        let cout = w.shape[0]
        let bias = DNNLForward.md([cout], dnnl_a)
        var weightDims = w.shape
        var plainWeights = DNNLForward.md(w.shape, dnnl_abcd)
        if group > 1 {
            weightDims = [group, cout / group] + Array(w.shape[1...])
            plainWeights = DNNLForward.md(weightDims, dnnl_abcde)
        }
        // A conv whose kernel covers its whole unpadded input (1x1 on a 1x1 plane) is a
        // matrix product, run as one (`DNNLDense.swift`) where the conv kernels are
        // several times slower.
        let dense = group == 1 && w.shape[2] == inDims[2] && w.shape[3] == inDims[3] && outDims[2] == 1 && outDims[3] == 1
            && pads.allSatisfy { $0 == 0 }
        return ConvOperands(x: x, w: w, b: b, output: output, strides: strides, pads: pads, inDims: inDims, weightDims: weightDims,
                            plainWeights: plainWeights, bias: bias, dense: dense)
    }

    /// A dense conv at batch 1 on a 1x1 plane as one `cdnnl_gemv` step (see `lowerConv`),
    /// `clamp`ed by its fused activation.
    func gemv(_ node: Node, _ c: ConvOperands, source: Tensor, biasValues: [Float], result: String, outDims: [Int],
              clamp: (Float, Float)?) throws(Unsupported) {
        let w = c.w
        let cout = w.shape[0]
        let columns = w.shape[1]
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: cout * columns)
        let biases = UnsafeMutablePointer<Float>.allocate(capacity: cout)
        w.withElements(as: Float.self) { weights.initialize(from: $0.baseAddress!, count: cout * columns) }
        biases.initialize(from: biasValues, count: cout)
        forward.ownedBuffers += [UnsafeMutableRawPointer(weights), UnsafeMutableRawPointer(biases)]
        let product = try denseProduct(result, DNNLForward.md([1, cout], dnnl_ab), outDims: outDims, node)
        read([c.x])
        let (xMemory, yMemory) = (source.memory!, product.memory!)
        let (low, high) = clamp ?? (-.infinity, .infinity)
        forward.steps.append(DNNLForward.Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: xMemory),
                                                                     dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: yMemory)]) {
            var problem = cdnnl_gemv_problem(weights: weights, x: DNNLForward.handle(xMemory), bias: biases, y: DNNLForward.handle(yMemory),
                                             rows: Int32(cout), columns: Int32(columns), low: low, high: high)
            cdnnl_gemv(&problem)
        })
    }

    /// A dense conv's [N, Cout] product in layout `md`, also seen as its output `result`
    /// [N, Cout, 1, 1] in the same buffer.
    func denseProduct(_ result: String, _ md: dnnl_memory_desc_t, outDims: [Int], _ node: Node) throws(Unsupported) -> Tensor {
        let product = try define(result + "#dense", md, dims: Array(outDims.prefix(2)))
        var flat = md, plain = dnnl_memory_desc_t()
        try forward.check(dnnl_memory_desc_reshape(&plain, &flat, 4, DNNLForward.dims(outDims)), "\(node.displayName): reshape")
        _ = try define(result, plain, dims: outDims, slot: product.slot)
        plan.readers[result + "#dense"] = 1
        read([result + "#dense"])
        return product
    }

    /// `y = x W' + bias` (`weights` row-major, `outputs` rows), clamped by a fused Relu or Clip,
    /// on `cdnnl_dense` over the rows (images) of `x`: read in its own layout where each row's
    /// values lie in plain order, else reordered to plain. `output` names the value whose
    /// backward step (`dx = dz W`) training records.
    func matrixProduct(_ x: String, _ weights: [Float], outputs: Int, bias: [Float]?, into y: Tensor, output: String,
                       eltwise: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?) throws(Unsupported) {
        let t = forward.tensors[x]!
        var source = (name: x, tensor: t)
        if DNNLForward.rowStride(dims: t.dims, md: t.md) == nil { source = try inLayout(x, DNNLForward.md(t.dims, DNNLForward.plainTag(t.dims.count))) }
        let columns = weights.count / outputs
        let kernel = forward.denseWeights(weights, outputs: outputs, columns: columns, outputStride: columns, columnStride: 1, bias: bias)
        read([source.name])
        let (xMemory, yMemory) = (source.tensor.memory!, y.memory!)
        forward.steps.append(DNNLForward.denseStep(kernel, rows: t.dims[0], x: xMemory, xStride: DNNLForward.rowStride(dims: t.dims, md: source.tensor.md)!,
                                                   y: yMemory, yStride: outputs, clamp: DNNLForward.clampOf(eltwise)!,
                                                   args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: xMemory), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: yMemory)]))
        if training {
            let transposed = forward.denseWeights(weights, outputs: columns, columns: outputs, outputStride: 1, columnStride: columns, bias: nil)
            forward.recipes.append(.dense(x: x, y: output, transposed: transposed, eltwise: eltwise))
        }
    }

    // MARK: - activation fusion

    /// The activation fused into the op writing `output`, if one can be (with `clampOnly`,
    /// only a Relu or Clip, as a matrix product applies), and the value the op then writes:
    /// the activation's output, which `lower` then skips.
    func fuseActivation(after output: String, clampOnly: Bool) -> (result: String, fused: DNNLForward.Activation?) {
        var result = output
        var fused = fusible(output)
        if clampOnly, let f = fused, DNNLForward.clampOf((f.alg, f.alpha, f.beta)) == nil { fused = nil }
        if let fused {
            result = fused.node.outputs[0]
            absorbed.insert(result)
            absorbGELU(output)
        }
        return (result, fused)
    }

    /// Primitive attributes applying `fused` (if any) after the op, as a post-op; the caller destroys them.
    static func postOps(_ fused: DNNLForward.Activation?) -> dnnl_primitive_attr_t? {
        var attr: dnnl_primitive_attr_t?
        dnnl_primitive_attr_create(&attr)
        if let fused {
            var ops: dnnl_post_ops_t?
            dnnl_post_ops_create(&ops)
            dnnl_post_ops_append_eltwise(ops, 1, fused.alg, fused.alpha, fused.beta)
            dnnl_primitive_attr_set_post_ops(attr, ops)
            dnnl_post_ops_destroy(ops)
        }
        return attr
    }

    /// A Relu or Clip that alone reads `output`, as an eltwise (algorithm, alpha, beta).
    /// In training only activations whose gradient oneDNN computes from their output.
    func fusible(_ output: String) -> DNNLForward.Activation? {
        if !training, let gelu = geluActivation(output) { return gelu }
        guard plan.readers[output] == 1, let reader = graph.nodes.first(where: { $0.inputs.first == output }),
              let e = eltwise(reader) else { return nil }
        return training && DNNLForward.usingOutput(e.alg) == nil ? nil : e
    }

    /// An activation node as an eltwise; nil for another op, or a Clip whose bounds are not constant.
    func eltwise(_ node: Node) -> DNNLForward.Activation? {
        switch node.opType {
        case "Relu": return (node, dnnl_eltwise_relu, 0, 0)
        case "Sigmoid": return (node, dnnl_eltwise_logistic, 0, 0)
        case "HardSwish": return (node, dnnl_eltwise_hardswish, 0, 0)
        case "Clip":
            guard let (lo, hi) = ClipOp.floatBounds(node, opset: opset, input: { node.input($0).flatMap { constants[$0] } }) else { return nil }
            return (node, dnnl_eltwise_clip_v2, lo, hi)
        default: return nil
        }
    }
}
