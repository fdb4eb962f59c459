internal import CDNNL
internal import CDNNLKernels
import Foundation

extension DNNLForward {
    /// An activation node as a oneDNN eltwise: the node, its algorithm, alpha and beta.
    typealias Activation = (node: Node, alg: dnnl_alg_kind_t, alpha: Float, beta: Float)

    /// The state of one `build`: the graph, its buffer plan, the activations fused into the
    /// op before them, and one method per op that appends its steps to the plan (`lower`).
    final class Lowering {
        let forward: DNNLForward
        let graph: Graph
        let opset: Int64
        let constants: [String: Value]
        let facts: [String: ValueFacts]
        let plan: BufferPlan
        let propagation: dnnl_prop_kind_t
        /// Outputs of activations fused into the op before them (and of Muls folded into a Conv).
        var absorbed = Set<String>()
        /// Per Conv output read by a Mul by a constant per output channel: the Mul's scales
        /// (one per channel) and output.
        var scaleOf: [String: (values: [Float], output: String)] = [:]
        /// GELUs written out in elementwise ops (`GELUPattern`), by input; and per output of
        /// one of their nodes, the GELU's input.
        let gelus: [String: GELUPattern]
        let geluOfNode: [String: String]
        var training: Bool { forward.training }

        init(_ forward: DNNLForward, graph: Graph, opset: Int64, constants: [String: Value], facts: [String: ValueFacts]) {
            self.forward = forward
            self.graph = graph
            self.opset = opset
            self.constants = constants
            self.facts = facts
            plan = BufferPlan(graph, training: forward.training)
            var scalars: [String: Float] = [:]
            for (name, v) in constants where v.dataType == .float && v.count == 1 { scalars[name] = v.floats[0] }
            gelus = GELUPattern.all(in: graph, constants: scalars)
            var geluOfNode: [String: String] = [:]
            for (input, g) in gelus { for i in g.nodes { geluOfNode[graph.nodes[i].outputs[0]] = input } }
            self.geluOfNode = geluOfNode
            propagation = forward.training ? dnnl_forward_training : dnnl_forward_inference
        }

        // MARK: - the graph's ends

        /// The graph input, in plain NCHW, bound to the caller's buffer at run time.
        func defineInput() throws(Unsupported) {
            var inputMd = DNNLForward.md(forward.inputShape, DNNLForward.plainTag(forward.inputShape.count))
            try forward.check(dnnl_memory_create(&forward.inputMemory, &inputMd, forward.engine, cdnnl_memory_none()), "input memory")
            forward.memories.append(forward.inputMemory!)
            // Its slot is never freed (nor bound: the caller's buffer is).
            forward.tensors[forward.inputName] = Tensor(md: inputMd, dims: forward.inputShape, slot: plan.pinnedSlot(), memory: forward.inputMemory)
        }

        /// Graph outputs in plain layout, in buffers of their own.
        func defineOutputs() throws(Unsupported) {
            for output in graph.outputs {
                guard let t = forward.tensors[output.name] else {
                    throw Unsupported(description: "output '\(output.name)' is not computed on the oneDNN path")
                }
                var plain = DNNLForward.md(t.dims, DNNLForward.plainTag(t.dims.count))
                var from = t.md
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(dnnl_memory_desc_get_size(&plain), 4), alignment: 64)
                forward.ownedBuffers.append(buffer)
                var memory: dnnl_memory_t?
                try forward.check(dnnl_memory_create(&memory, &plain, forward.engine, buffer), "output memory")
                forward.memories.append(memory!)
                var pd: dnnl_primitive_desc_t?
                try forward.check(dnnl_reorder_primitive_desc_create(&pd, &from, forward.engine, &plain, forward.engine, nil), "output reorder")
                defer { dnnl_primitive_desc_destroy(pd) }
                try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: t.memory), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: memory)], "output reorder")
                forward.outputs.append((output.name, memory!, t.dims))
            }
        }

        // MARK: - per-op lowering

        /// The steps of `node` (none for a constant, or for an activation or Mul absorbed by
        /// the op before it), by its op type.
        func lower(_ node: Node) throws(Unsupported) {
            if node.opType == "Constant" || node.outputs.allSatisfy({ constants[$0] != nil }) { return }
            if absorbed.contains(node.outputs.first ?? "") { return }
            if let v = geluOfNode[node.outputs.first ?? ""], forward.tensors[v] != nil {
                try lowerGELU(v)
                return
            }
            if node.opType == "Transpose", forward.tensors[node.inputs.first ?? ""] != nil {
                try lowerChannelNorm(node)
                return
            }
            guard DNNLForward.coveredOps.contains(node.opType), node.domain.map({ $0.isEmpty || $0 == "ai.onnx" }) ?? true else {
                throw Unsupported(description: "\(node.displayName): \(node.opType) is not covered by the oneDNN path")
            }
            let activations = node.inputs.filter { !$0.isEmpty && constants[$0] == nil }
            for a in activations where forward.tensors[a] == nil {
                throw Unsupported(description: "\(node.displayName): input '\(a)' is not computed on the oneDNN path")
            }
            let output = node.outputs[0]
            let outDims = try shape(output)
            switch node.opType {
            case "Identity", "Dropout": try lowerIdentity(node, output: output)
            case "Conv": try lowerConv(node, output: output, outDims: outDims)
            case "Relu", "Clip", "Sigmoid", "HardSwish": try lowerActivation(node, output: output, outDims: outDims)
            case "Add", "Mul": try lowerBinary(node, output: output, outDims: outDims, activations: activations)
            case "GlobalAveragePool", "ReduceMean", "MaxPool", "AveragePool": try lowerPool(node, output: output, outDims: outDims)
            case "Flatten", "Reshape": try lowerView(node, output: output, outDims: outDims)
            case "Gemm": try lowerGemm(node, output: output, outDims: outDims)
            case "Concat": try lowerConcat(node, output: output, outDims: outDims, activations: activations)
            default:
                throw Unsupported(description: "\(node.displayName): \(node.opType) is not covered by the oneDNN path")
            }
        }

        func lowerIdentity(_ node: Node, output: String) throws(Unsupported) {
            guard node.outputs.count == 1 || node.outputs[1].isEmpty || plan.readers[node.outputs[1]] == nil else {
                throw Unsupported(description: "\(node.displayName): Dropout's mask is read")
            }
            passOn(node.inputs[0], as: output)
        }

        func lowerActivation(_ node: Node, output: String, outDims: [Int]) throws(Unsupported) {
            guard let e = eltwise(node) else { throw Unsupported(description: "\(node.displayName): Clip bounds are not constant") }
            var md = forward.tensors[node.inputs[0]]!.md
            var desc = dnnl_eltwise_desc_t()
            try forward.check(dnnl_eltwise_forward_desc_init(&desc, propagation, e.alg, &md, e.alpha, e.beta), "\(node.displayName): eltwise")
            if let kept = try sourceToDestination(&desc, input: node.inputs[0], output: output, dims: outDims, what: "\(node.displayName): eltwise") {
                forward.recipes.append(.eltwise(hint: kept, x: node.inputs[0], y: output, alg: e.alg, alpha: e.alpha, beta: e.beta))
            }
        }

        func lowerBinary(_ node: Node, output: String, outDims: [Int], activations: [String]) throws(Unsupported) {
            guard activations.count >= 1, node.inputs.count == 2 else {
                throw Unsupported(description: "\(node.displayName): \(node.opType) of two constants")
            }
            try defineConstantOperands(node, outDims: outDims)
            // The full-shape operand first; the other may broadcast ([N, C, 1, 1]).
            var (a, b) = (node.inputs[0], node.inputs[1])
            if forward.tensors[a]!.dims != outDims { swap(&a, &b) }
            guard forward.tensors[a]!.dims == outDims, forward.tensors[b]!.dims.count == outDims.count else {
                throw Unsupported(description: "\(node.displayName): broadcast of both operands is not covered")
            }
            var first = forward.tensors[a]!.md
            // A constant or parameter per channel ([1, C, 1, 1] or [1, C]): our own loop, one
            // product per element as oneDNN's, without its per-call cost on the small planes.
            if node.opType == "Mul", constants[b] != nil, let layout = ChannelLayout(dims: outDims, md: first),
               layout.scales(forward.tensors[b]!.dims) {
                let y = try define(output, first, dims: outDims)
                read([a, b])
                forward.steps.append(layout.scaleStep(forward.tensors[a]!.memory!, by: forward.tensors[b]!.memory!, into: y.memory!))
                if training { forward.recipes.append(.binary(add: false, a: a, b: b, bInLayout: b, y: output)) }
                forward.channelScaled.insert(output)
                return
            }
            let second = forward.tensors[b]!.dims == outDims ? try inLayout(b, first) : (b, forward.tensors[b]!)
            var secondMd = second.tensor.md
            var dest = first
            var desc = dnnl_binary_desc_t()
            try forward.check(dnnl_binary_desc_init(&desc, node.opType == "Add" ? dnnl_binary_add : dnnl_binary_mul, &first, &secondMd, &dest),
                              "\(node.displayName): binary")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, nil), "\(node.displayName): binary")
            defer { dnnl_primitive_desc_destroy(pd) }
            let y = try define(output, queried(pd, dnnl_query_dst_md), dims: outDims)
            read([a, second.name])
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: forward.tensors[a]!.memory), dnnl_exec_arg_t(arg: DNNL_ARG_SRC_1, memory: second.tensor.memory),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory)], "binary")
            if training { forward.recipes.append(.binary(add: node.opType == "Add", a: a, b: b, bInLayout: second.name, y: output)) }
        }

        /// A constant operand of an Add or Mul becomes a plain-layout constant of the output's
        /// rank. A parameter is one too, its buffer filled before each pass.
        func defineConstantOperands(_ node: Node, outDims: [Int]) throws(Unsupported) {
            let full = node.inputs.compactMap { forward.tensors[$0] }.first { $0.dims == outDims }
            for name in node.inputs where constants[name] != nil && forward.tensors[name] == nil {
                let c = try floats(name, node)
                let dims = [Int](repeating: 1, count: outDims.count - c.shape.count) + c.shape
                let md = full.map { DNNLForward.broadcastMd(dims, like: $0.md, dims: outDims) } ?? DNNLForward.md(dims, DNNLForward.plainTag(dims.count))
                let memory = try forward.constantMemory(md, c.floats)
                if forward.parameterNames.contains(name) { forward.parameterBuffers[name] = (UnsafeMutableRawPointer(DNNLForward.handle(memory)), c.count) }
                forward.tensors[name] = Tensor(md: md, dims: dims, slot: plan.pinnedSlot(), memory: memory)
            }
        }

        func lowerPool(_ node: Node, output: String, outDims: [Int]) throws(Unsupported) {
            let x = forward.tensors[node.inputs[0]]!
            guard x.dims.count == 4 else { throw Unsupported(description: "\(node.displayName): only 2-D pooling is covered") }
            let (kernel, strides, pads, alg) = try poolWindow(node, plane: [x.dims[2], x.dims[3]])
            // A 1x1 window over a plane it leaves as it is (a global pool of a 1x1 plane)
            // passes its input on: no step, the same buffer.
            if kernel == [1, 1], outDims == x.dims, pads.allSatisfy({ $0 == 0 }) {
                passOn(node.inputs[0], as: output)
                return
            }
            var source = x.md
            var dest = DNNLForward.md(outDims, dnnl_format_tag_any)
            var desc = dnnl_pooling_desc_t()
            try forward.check(dnnl_pooling_forward_desc_init(&desc, propagation, alg, &source, &dest, DNNLForward.dims(strides), DNNLForward.dims(kernel),
                                                             DNNLForward.dims([pads[0], pads[1]]), DNNLForward.dims([pads[2], pads[3]])),
                              "\(node.displayName): pooling")
            if let kept = try sourceToDestination(&desc, input: node.inputs[0], output: output, dims: outDims, what: "\(node.displayName): pooling") {
                forward.recipes.append(.pool(hint: kept, x: node.inputs[0], y: output, alg: alg, kernel: kernel, strides: strides, pads: pads))
            }
        }

        /// The window of a pooling node over a `plane` (a global pool's is the whole plane).
        func poolWindow(_ node: Node, plane: [Int]) throws(Unsupported) -> (kernel: [Int], strides: [Int], pads: [Int], alg: dnnl_alg_kind_t) {
            var kernel = plane, strides = [1, 1], pads = [0, 0, 0, 0]
            var alg = dnnl_pooling_avg_exclude_padding
            switch node.opType {
            case "ReduceMean":
                let axes = node.ints("axes") ?? constants[node.input(1) ?? ""]?.integers()
                guard node.int("keepdims", default: 1) == 1, let axes, Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else {
                    throw Unsupported(description: "\(node.displayName): ReduceMean other than over H and W with keepdims")
                }
            case "MaxPool", "AveragePool":
                guard node.int("ceil_mode", default: 0) == 0, (node.ints("dilations") ?? [1, 1]) == [1, 1], !(training && node.opType == "MaxPool"),
                      node.string("auto_pad").map({ $0 == "NOTSET" }) ?? true, node.outputs.count == 1 else {
                    throw Unsupported(description: "\(node.displayName): \(node.opType) with ceil_mode, dilations, auto_pad or indices, or MaxPool in training")
                }
                kernel = node.ints("kernel_shape") ?? kernel
                strides = node.ints("strides") ?? [1, 1]
                pads = node.ints("pads") ?? pads
                alg = node.opType == "MaxPool" ? dnnl_pooling_max
                    : node.int("count_include_pad", default: 0) == 1 ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding
            default: break
            }
            return (kernel, strides, pads, alg)
        }

        func lowerView(_ node: Node, output: String, outDims: [Int]) throws(Unsupported) {
            let x = forward.tensors[node.inputs[0]]!
            guard node.int("axis", default: 1) == 1, outDims.count == 2, outDims[0] == x.dims[0] else {
                throw Unsupported(description: "\(node.displayName): \(node.opType) other than to [N, rest]")
            }
            // The view shares a planned buffer; the graph input's is the caller's, so it is copied.
            let plain = try inLayout(node.inputs[0], DNNLForward.md(x.dims, DNNLForward.plainTag(x.dims.count)), copy: x.memory == forward.inputMemory)
            _ = try define(output, DNNLForward.md(outDims, dnnl_ab), dims: outDims, slot: plain.tensor.slot)
            read([plain.name])
            forward.recipes.append(.view(x: node.inputs[0], y: output))
        }

        func lowerGemm(_ node: Node, output: String, outDims: [Int]) throws(Unsupported) {
            let x = forward.tensors[node.inputs[0]]!
            guard x.dims.count == 2, node.int("transA", default: 0) == 0, node.float("alpha", default: 1) == 1,
                  node.float("beta", default: 1) == 1 else {
                throw Unsupported(description: "\(node.displayName): Gemm other than x * W' + b")
            }
            let w = try floats(node.inputs[1], node)
            var b: Value?
            if let name = node.input(2) { b = try floats(name, node) }
            let (n, k) = (outDims[1], x.dims[1])
            var weights = w.floats
            if node.int("transB", default: 0) == 0 {  // stored [K, N]: to [N, K]
                weights = (0..<(n * k)).map { i in w.floats[(i % k) * n + i / k] }
            }
            if let b, b.count != n { throw Unsupported(description: "\(node.displayName): Gemm bias is not one per output") }
            let y = try define(output, DNNLForward.md(outDims, dnnl_ab), dims: outDims)
            try matrixProduct(node.inputs[0], weights, outputs: n, bias: b?.floats, into: y, output: output, eltwise: nil)
        }

        func lowerConcat(_ node: Node, output: String, outDims: [Int], activations: [String]) throws(Unsupported) {
            let axis = node.int("axis", default: 1)!
            guard axis == 1 || axis == 1 - outDims.count, activations.count == node.inputs.count, !training else {
                throw Unsupported(description: "\(node.displayName): Concat other than of activations along channels, or in training")
            }
            let parts = node.inputs.map { forward.tensors[$0]! }
            var descs = parts.map(\.md)
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_concat_primitive_desc_create(&pd, nil, Int32(parts.count), 1, &descs, nil, forward.engine), "\(node.displayName): concat")
            defer { dnnl_primitive_desc_destroy(pd) }
            let y = try define(output, queried(pd, dnnl_query_dst_md), dims: outDims)
            read(node.inputs)
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory)]
            for (i, p) in parts.enumerated() { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_MULTIPLE_SRC + Int32(i), memory: p.memory)) }
            try add(pd, args, "concat")
        }

        // MARK: - helpers

        func define(_ name: String, _ md: dnnl_memory_desc_t, dims: [Int], slot given: Int? = nil) throws(Unsupported) -> Tensor {
            let s = given ?? plan.slot(bytes: max(DNNLForward.bytes(md), 4))
            plan.hold(s)
            var md = md
            var memory: dnnl_memory_t?
            try forward.check(dnnl_memory_create(&memory, &md, forward.engine, cdnnl_memory_none()), "memory for \(name)")
            forward.memories.append(memory!)
            plan.bindings.append((memory!, s))
            let t = Tensor(md: md, dims: dims, slot: s, memory: memory)
            forward.tensors[name] = t
            return t
        }

        /// One read of each of `names` (a converted copy counts for its source too).
        func read(_ names: [String]) {
            plan.read(names, tensors: forward.tensors)
        }

        /// A copy of `pd`, kept as the hint of a backward primitive.
        func hint(_ pd: dnnl_primitive_desc_t?) throws(Unsupported) -> dnnl_primitive_desc_t {
            var kept: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_clone(&kept, pd), "primitive descriptor copy")
            forward.hints.append(kept!)
            return kept!
        }

        func add(_ pd: dnnl_primitive_desc_t?, _ args: [dnnl_exec_arg_t], _ what: String) throws(Unsupported) {
            forward.steps.append(Step(primitive: try forward.primitive(pd, what), args: args))
        }

        func queried(_ pd: dnnl_primitive_desc_t?, _ what: dnnl_query_t) -> dnnl_memory_desc_t {
            DNNLForward.queried(pd, what)
        }

        /// The step of an op descriptor with one source, `input` as it is, and one destination,
        /// `output` in the layout the primitive picks.
        @discardableResult
        func sourceToDestination<Descriptor>(_ desc: inout Descriptor, input: String, output: String, dims: [Int], what: String)
            throws(Unsupported) -> dnnl_primitive_desc_t? {
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, nil), what)
            defer { dnnl_primitive_desc_destroy(pd) }
            let kept = training ? try hint(pd) : nil
            let x = forward.tensors[input]!
            let y = try define(output, queried(pd, dnnl_query_dst_md), dims: dims)
            read([input])
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: x.memory), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory)], what)
            return kept
        }

        /// `name` in layout `md`: itself, or a reorder of it into a new tensor (read once).
        /// With `copy`, a copy is made even when the layout already matches.
        func inLayout(_ name: String, _ md: dnnl_memory_desc_t, copy: Bool = false) throws(Unsupported) -> (name: String, tensor: Tensor) {
            let t = forward.tensors[name]!
            if DNNLForward.equal(t.md, md) && !copy { return (name, t) }
            let converted = name + "#" + String(forward.steps.count)
            // On a 1x1 plane with whole blocks of channels, plain and blocked layouts put every
            // value at the same offset: the same buffer, seen in the other layout, no step.
            if !copy, !training, let from = ChannelLayout(dims: t.dims, md: t.md), let to = ChannelLayout(dims: t.dims, md: md),
               from.positions == 1, from.channels % from.block == 0, from.channels % to.block == 0 {
                let view = try define(converted, md, dims: t.dims, slot: t.slot)
                plan.converted(converted, from: name)
                return (converted, view)
            }
            let target = try define(converted, md, dims: t.dims)
            var from = t.md, to = md
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_reorder_primitive_desc_create(&pd, &from, forward.engine, &to, forward.engine, nil), "reorder of \(name)")
            defer { dnnl_primitive_desc_destroy(pd) }
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: t.memory), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: target.memory)], "reorder")
            plan.converted(converted, from: name)
            return (converted, target)
        }

        /// `output` is `input`: the same buffer, no step.
        func passOn(_ input: String, as output: String) {
            let t = forward.tensors[input]!
            plan.hold(t.slot)
            forward.tensors[output] = t
            read([input])
            if training { forward.recipes.append(.identity(x: input, y: output)) }
        }

        func floats(_ name: String, _ node: Node) throws(Unsupported) -> Value {
            guard let v = constants[name], v.dataType == .float else {
                throw Unsupported(description: "\(node.displayName): input '\(name)' is not a float constant")
            }
            return v
        }

        func shape(_ name: String) throws(Unsupported) -> [Int] {
            guard let s = facts[name]?.shape else { throw Unsupported(description: "no static shape for '\(name)'") }
            return s
        }
    }
}
