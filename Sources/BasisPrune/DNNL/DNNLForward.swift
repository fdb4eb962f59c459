internal import CDNNL
internal import CDNNLKernels
import Foundation

/// Forward inference of a whole graph through oneDNN (Debian's `libdnnl`): every activation
/// stays in the layout oneDNN's kernels choose (blocked channels, `nChw8c` on AVX2), convs run
/// with their bias and a following Relu/Clip fused, and layouts change only where a
/// primitive asks for another one (`Flatten`, the graph's input and outputs).
///
/// Built once per input shape. A graph with an op or attribute this path does not cover is
/// refused at build (`DNNLForward.Unsupported`, naming the node), and the caller runs the
/// reference kernels instead. Buffers are planned at build: each one is reused once the
/// values in it have no reader left, so peak memory is the widest point of the graph.
final class DNNLForward: @unchecked Sendable {
    struct Unsupported: Error, CustomStringConvertible {
        var description: String
    }

    /// A value of the graph: its memory descriptor, its dims, and the buffer it lives in.
    struct Tensor {
        var md: dnnl_memory_desc_t
        var dims: [Int]
        var slot: Int
        var memory: dnnl_memory_t?
    }

    /// A oneDNN primitive with its arguments, or a loop of this file's own (`custom`).
    struct Step {
        var primitive: dnnl_primitive_t?
        var args: [dnnl_exec_arg_t]
        var custom: (() -> Void)? = nil
    }

    var engine: dnnl_engine_t?
    var stream: dnnl_stream_t?
    var steps: [Step] = []
    var primitives: [dnnl_primitive_t] = []
    var memories: [dnnl_memory_t] = []
    /// Constant memories (reordered weights) that own their buffers.
    var ownedBuffers: [UnsafeMutableRawPointer] = []
    /// Activation buffers by slot.
    private var slotBytes: [Int] = []
    private var slotBuffers: [UnsafeMutableRawPointer] = []
    var inputMemory: dnnl_memory_t?
    /// Bytes of the buffers that grow with the batch: activation slots, and in training mode
    /// the gradient buffers of the backward sweep (weights and parameters not counted).
    var batchBytes = 0
    /// Graph outputs: plain-layout memory, dims.
    var outputs: [(name: String, memory: dnnl_memory_t, dims: [Int])] = []
    let inputName: String
    let inputShape: [Int]
    let lock = NSLock()
    /// Every value of the graph computed on this path, by name (kept after the build).
    var tensors: [String: Tensor] = [:]

    /// Training mode (`DNNLBackward.swift`): the parameters are bound at run time, every
    /// activation keeps its own buffer for the backward sweep, and each op records how its
    /// gradient is computed.
    let parameterNames: Set<String>
    var training: Bool { !parameterNames.isEmpty }
    /// Per parameter: the plain-layout buffer its values are copied into before a pass.
    var parameterBuffers: [String: (buffer: UnsafeMutableRawPointer, count: Int)] = [:]
    /// Outputs of the Muls by a constant or parameter per channel that run on
    /// `cdnnl_channel_scale` (their backward does too).
    var channelScaled: Set<String> = []
    /// What each op of the forward pass needs for its backward step, in forward order.
    var recipes: [Recipe] = []
    /// Forward primitive descriptors kept as hints for the backward ones.
    var hints: [dnnl_primitive_desc_t] = []
    var backwardSteps: [Step] = []
    var backwardEnds: BackwardEnds?

    /// The ops this path runs; any other op makes the build fail with `Unsupported`.
    static let coveredOps: Set<String> = [
        "Conv", "Relu", "Clip", "Sigmoid", "HardSwish", "Add", "Mul", "GlobalAveragePool", "ReduceMean",
        "MaxPool", "AveragePool", "Flatten", "Reshape", "Gemm", "Concat", "Identity", "Dropout",
    ]

    /// Compiles `graph` for inputs of `inputShape`. With `parameters`, in training mode: those
    /// initializers are read from the values `train` is given, and the backward sweep to them
    /// from the first graph output is compiled too.
    init(graph: Graph, opset: Int64, constants: [String: Value], inputName: String, inputShape: [Int],
         parameters: Set<String> = []) throws(Unsupported) {
        self.inputName = inputName
        self.inputShape = inputShape
        parameterNames = parameters
        do {
            try build(graph, opset: opset, constants: constants)
            if training { try buildBackward(graph) }
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    private func release() {
        for h in hints { dnnl_primitive_desc_destroy(h) }
        hints = []
        for p in primitives { dnnl_primitive_destroy(p) }
        for m in memories { dnnl_memory_destroy(m) }
        for b in ownedBuffers { b.deallocate() }
        for b in slotBuffers { b.deallocate() }
        primitives = []
        memories = []
        ownedBuffers = []
        slotBuffers = []
        if let stream { dnnl_stream_destroy(stream) }
        if let engine { dnnl_engine_destroy(engine) }
        stream = nil
        engine = nil
    }

    /// Runs the graph on `input` (the shape it was built for); returns every graph output.
    func run(_ input: Value) -> [String: Value] {
        lock.lock()
        defer { lock.unlock() }
        input.withElements(as: Float.self) { x in
            dnnl_memory_set_data_handle(inputMemory, UnsafeMutableRawPointer(mutating: x.baseAddress))
            execute(steps)
        }
        var result: [String: Value] = [:]
        for output in outputs { result[output.name] = Self.value(of: output.memory, dims: output.dims) }
        return result
    }

    // MARK: - building

    func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws(Unsupported) {
        guard status == dnnl_success else { throw Unsupported(description: "oneDNN: \(what()) failed (status \(status.rawValue))") }
    }

    /// The bounds of a fused activation `cdnnl_gemv` applies (`nil` outer: one it cannot;
    /// `nil` inner: none): Relu and Clip.
    static func clampOf(_ eltwise: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?) -> (Float, Float)?? {
        guard let eltwise else { return .some(nil) }
        if eltwise.alg == dnnl_eltwise_relu, eltwise.alpha == 0 { return .some((0, .infinity)) }
        if eltwise.alg == dnnl_eltwise_clip_v2 { return .some((eltwise.alpha, eltwise.beta)) }
        return nil
    }

    static func md(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), Self.dims(dims), dnnl_f32, tag)
        return md
    }

    /// A `dnnl_dims_t` argument (C passes it as a pointer to its first element).
    static func dims(_ values: [Int]) -> [Int64] {
        values.map(Int64.init) + [Int64](repeating: 0, count: 12 - values.count)
    }

    static func plainTag(_ rank: Int) -> dnnl_format_tag_t {
        switch rank {
        case 1: dnnl_a
        case 2: dnnl_ab
        case 3: dnnl_abc
        case 4: dnnl_abcd
        default: dnnl_abcde
        }
    }

    /// A layout for a `[1, C, 1, 1]` operand broadcast against `like` (of `full` dims): the
    /// same channel blocking as `like` when it is blocked by 8 or 16 (for such dims its
    /// elements lie in plain order, padded at the end), which oneDNN's fast binary kernels
    /// need; plain otherwise.
    static func broadcastMd(_ dims: [Int], like: dnnl_memory_desc_t, dims full: [Int]) -> dnnl_memory_desc_t {
        if dims.count == 4, dims[0] == 1, dims[2] == 1, dims[3] == 1, full.count == 4 {
            for tag in [dnnl_aBcd8b, dnnl_aBcd16b] where equal(like, md(full, tag)) { return md(dims, tag) }
        }
        return md(dims, plainTag(dims.count))
    }

    /// The primitive of `pd`, owned by the plan.
    func primitive(_ pd: dnnl_primitive_desc_t?, _ what: String) throws(Unsupported) -> dnnl_primitive_t {
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), what)
        primitives.append(primitive!)
        return primitive!
    }

    /// The memory descriptor `pd` has for `what` (source, weights, destination, ...).
    static func queried(_ pd: dnnl_primitive_desc_t?, _ what: dnnl_query_t) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(pd, what, 0)!.pointee
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var a = a, b = b
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    static func bytes(_ md: dnnl_memory_desc_t) -> Int {
        var md = md
        return dnnl_memory_desc_get_size(&md)
    }

    /// A memory over `bytes` of a new buffer filled by `fill` (for weights), owned by the plan.
    func constantMemory(_ md: dnnl_memory_desc_t, _ values: [Float]) throws(Unsupported) -> dnnl_memory_t {
        var md = md
        let size = max(dnnl_memory_desc_get_size(&md), 4)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        ownedBuffers.append(buffer)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        values.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: min($0.count, size)) }
        var memory: dnnl_memory_t?
        try check(dnnl_memory_create(&memory, &md, engine, buffer), "memory")
        memories.append(memory!)
        return memory!
    }

    /// `values` (plain layout `plain`) as a constant in layout `wanted`, reordered once now.
    func constant(_ values: [Float], plain: dnnl_memory_desc_t, wanted: dnnl_memory_desc_t) throws(Unsupported) -> dnnl_memory_t {
        let source = try constantMemory(plain, values)
        if Self.equal(plain, wanted) { return source }
        let target = try constantMemory(wanted, [])
        var plain = plain, wanted = wanted
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_reorder_primitive_desc_create(&pd, &plain, engine, &wanted, engine, nil), "weight reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorder: dnnl_primitive_t?
        try check(dnnl_primitive_create(&reorder, pd), "weight reorder")
        defer { dnnl_primitive_destroy(reorder) }
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: target)]
        try check(dnnl_primitive_execute(reorder, stream, 2, &args), "weight reorder")
        dnnl_stream_wait(stream)
        return target
    }

    /// `weight` [Cout, Cin/g, KH, KW] cut to the taps some output position reads inside the
    /// input, with the pads adjusted so the output size stays; unchanged when nothing is cut.
    static func cropped(_ weight: Value, pads: [Int], strides: [Int], input: [Int], output: [Int]) -> (Value, [Int]) {
        var ranges: [ClosedRange<Int>] = []
        var newPads = pads
        for d in 0..<2 {
            let k = weight.shape[2 + d]
            let used = (0..<k).filter { tap in (0..<output[d]).contains { o in (0..<input[d]).contains(o * strides[d] - pads[d] + tap) } }
            guard let first = used.first, let last = used.last else { return (weight, pads) }
            ranges.append(first...last)
            newPads[d] = pads[d] - first
            newPads[d + 2] = (output[d] - 1) * strides[d] + (last - first + 1) - input[d] - newPads[d]
            if newPads[d] < 0 || newPads[d + 2] < 0 { return (weight, pads) }
        }
        if ranges[0].count == weight.shape[2] && ranges[1].count == weight.shape[3] { return (weight, pads) }
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        let outer = weight.shape[0] * weight.shape[1]
        let source = weight.floats
        var values: [Float] = []
        values.reserveCapacity(outer * ranges[0].count * ranges[1].count)
        for o in 0..<outer { for i in ranges[0] { for j in ranges[1] { values.append(source[(o * kh + i) * kw + j]) } } }
        return (Value(shape: [weight.shape[0], weight.shape[1], ranges[0].count, ranges[1].count], floats: values), newPads)
    }

    private func build(_ graph: Graph, opset: Int64, constants: [String: Value]) throws(Unsupported) {
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
        try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
        let facts: [String: ValueFacts]
        do { facts = try ShapeInference(graph: graph, opset: opset, inputShapes: [inputName: inputShape]).facts } catch {
            throw Unsupported(description: "shape inference: \(error.description)")
        }
        // Readers left per value, and the activations each node's output may absorb.
        var readers: [String: Int] = [:]
        for node in graph.nodes { for input in node.inputs where !input.isEmpty { readers[input, default: 0] += 1 } }
        for output in graph.outputs { readers[output.name, default: 1 << 30] += 1 << 30 }
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for output in node.outputs { producer[output] = i } }

        var slotHolders: [Int] = []
        var freeSlots: [Int] = []
        func slot(bytes: Int) -> Int {
            if let best = freeSlots.enumerated().filter({ slotBytes[$0.element] >= bytes }).min(by: { slotBytes[$0.element] < slotBytes[$1.element] }) {
                freeSlots.remove(at: best.offset)
                slotHolders[best.element] = 0
                return best.element
            }
            if let largest = freeSlots.enumerated().max(by: { slotBytes[$0.element] < slotBytes[$1.element] }) {
                freeSlots.remove(at: largest.offset)
                slotBytes[largest.element] = bytes
                slotHolders[largest.element] = 0
                return largest.element
            }
            slotBytes.append(bytes)
            slotHolders.append(0)
            return slotBytes.count - 1
        }
        // Memories are bound to their slot's buffer once all sizes are known.
        var bindings: [(memory: dnnl_memory_t, slot: Int)] = []
        func define(_ name: String, _ md: dnnl_memory_desc_t, dims: [Int], slot given: Int? = nil) throws(Unsupported) -> Tensor {
            let s = given ?? slot(bytes: max(Self.bytes(md), 4))
            slotHolders[s] += 1
            var md = md
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &md, engine, cdnnl_memory_none()), "memory for \(name)")
            memories.append(memory!)
            bindings.append((memory!, s))
            let t = Tensor(md: md, dims: dims, slot: s, memory: memory)
            tensors[name] = t
            return t
        }
        // In training, the values a backward step reads keep their buffers: a Mul's operands
        // and an activation's input and output. The rest are reused as in inference.
        var keptForBackward = Set<String>()
        for node in graph.nodes where training {
            if node.opType == "Mul" { keptForBackward.formUnion(node.inputs) }
            if ["Relu", "Clip", "Sigmoid", "HardSwish"].contains(node.opType) { keptForBackward.formUnion(node.inputs.prefix(1) + node.outputs) }
        }
        var convertedFrom: [String: String] = [:]
        func read(_ name: String) {
            if keptForBackward.contains(name) || convertedFrom[name].map(keptForBackward.contains) == true { return }
            readers[name, default: 0] -= 1
            if readers[name]! <= 0, let t = tensors[name] {
                slotHolders[t.slot] -= 1
                if slotHolders[t.slot] == 0 { freeSlots.append(t.slot) }
            }
        }
        let propagation = training ? dnnl_forward_training : dnnl_forward_inference
        /// A copy of `pd`, kept as the hint of a backward primitive.
        func hint(_ pd: dnnl_primitive_desc_t?) throws(Unsupported) -> dnnl_primitive_desc_t {
            var kept: dnnl_primitive_desc_t?
            try check(dnnl_primitive_desc_clone(&kept, pd), "primitive descriptor copy")
            hints.append(kept!)
            return kept!
        }
        func add(_ pd: dnnl_primitive_desc_t?, _ args: [dnnl_exec_arg_t], _ what: String) throws(Unsupported) {
            steps.append(Step(primitive: try primitive(pd, what), args: args))
        }
        let queried = Self.queried
        /// The step of an op descriptor with one source, `input` as it is, and one destination,
        /// `output` in the layout the primitive picks.
        @discardableResult
        func sourceToDestination<Descriptor>(_ desc: inout Descriptor, input: String, output: String, dims: [Int], what: String)
            throws(Unsupported) -> dnnl_primitive_desc_t? {
            var pd: dnnl_primitive_desc_t?
            try check(dnnl_primitive_desc_create(&pd, &desc, nil, engine, nil), what)
            defer { dnnl_primitive_desc_destroy(pd) }
            let kept = training ? try hint(pd) : nil
            let x = tensors[input]!
            let y = try define(output, queried(pd, dnnl_query_dst_md), dims: dims)
            read([input])
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: x.memory), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory)], what)
            return kept
        }
        /// A dense conv's [N, Cout] product in layout `md`, also seen as its output `result`
        /// [N, Cout, 1, 1] in the same buffer.
        func denseProduct(_ result: String, _ md: dnnl_memory_desc_t, outDims: [Int], _ node: Node) throws(Unsupported) -> Tensor {
            let product = try define(result + "#dense", md, dims: Array(outDims.prefix(2)))
            var flat = md, plain = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_reshape(&plain, &flat, 4, Self.dims(outDims)), "\(node.displayName): reshape")
            _ = try define(result, plain, dims: outDims, slot: product.slot)
            readers[result + "#dense"] = 1
            read([result + "#dense"])
            return product
        }
        /// `y = x W' + bias` (`weights` row-major, `outputs` rows), clamped by a fused Relu or Clip,
        /// on `cdnnl_dense` over the rows (images) of `x`: read in its own layout where each row's
        /// values lie in plain order, else reordered to plain. `output` names the value whose
        /// backward step (`dx = dz W`) training records.
        func matrixProduct(_ x: String, _ weights: [Float], outputs: Int, bias: [Float]?, into y: Tensor, output: String,
                           eltwise: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?) throws(Unsupported) {
            let t = tensors[x]!
            var source = (name: x, tensor: t)
            if Self.rowStride(dims: t.dims, md: t.md) == nil { source = try inLayout(x, Self.md(t.dims, Self.plainTag(t.dims.count))) }
            let columns = weights.count / outputs
            let kernel = denseWeights(weights, outputs: outputs, columns: columns, outputStride: columns, columnStride: 1, bias: bias)
            read([source.name])
            let (xMemory, yMemory) = (source.tensor.memory!, y.memory!)
            steps.append(Self.denseStep(kernel, rows: t.dims[0], x: xMemory, xStride: Self.rowStride(dims: t.dims, md: source.tensor.md)!,
                                        y: yMemory, yStride: outputs, clamp: Self.clampOf(eltwise)!,
                                        args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: xMemory), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: yMemory)]))
            if training {
                let transposed = denseWeights(weights, outputs: columns, columns: outputs, outputStride: 1, columnStride: columns, bias: nil)
                recipes.append(.dense(x: x, y: output, transposed: transposed, eltwise: eltwise))
            }
        }
        /// `name` in layout `md`: itself, or a reorder of it into a new tensor (read once).
        /// With `copy`, a copy is made even when the layout already matches.
        func inLayout(_ name: String, _ md: dnnl_memory_desc_t, copy: Bool = false) throws(Unsupported) -> (name: String, tensor: Tensor) {
            let t = tensors[name]!
            if Self.equal(t.md, md) && !copy { return (name, t) }
            let converted = name + "#" + String(steps.count)
            // On a 1x1 plane with whole blocks of channels, plain and blocked layouts put every
            // value at the same offset: the same buffer, seen in the other layout, no step.
            if !copy, !training, let from = ChannelLayout(dims: t.dims, md: t.md), let to = ChannelLayout(dims: t.dims, md: md),
               from.positions == 1, from.channels % from.block == 0, from.channels % to.block == 0 {
                let view = try define(converted, md, dims: t.dims, slot: t.slot)
                readers[converted] = 1
                convertedFrom[converted] = name
                return (converted, view)
            }
            let target = try define(converted, md, dims: t.dims)
            var from = t.md, to = md
            var pd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&pd, &from, engine, &to, engine, nil), "reorder of \(name)")
            defer { dnnl_primitive_desc_destroy(pd) }
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: t.memory), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: target.memory)], "reorder")
            readers[converted] = 1
            convertedFrom[converted] = name
            return (converted, target)
        }
        /// One read of each of `names` (a converted copy counts for its source too).
        func read(_ names: [String]) {
            for name in names {
                read(name)
                if let source = convertedFrom[name] { read(source) }
            }
        }
        /// `output` is `input`: the same buffer, no step.
        func passOn(_ input: String, as output: String) {
            let t = tensors[input]!
            slotHolders[t.slot] += 1
            tensors[output] = t
            read([input])
            if training { recipes.append(.identity(x: input, y: output)) }
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
        /// A Relu or Clip that alone reads `output`, as an eltwise (algorithm, alpha, beta).
        /// In training only activations whose gradient oneDNN computes from their output.
        func fusible(_ output: String) -> (node: Node, alg: dnnl_alg_kind_t, alpha: Float, beta: Float)? {
            guard readers[output] == 1, let reader = graph.nodes.first(where: { $0.inputs.first == output }),
                  let e = eltwise(reader) else { return nil }
            return training && Self.usingOutput(e.alg) == nil ? nil : e
        }
        func eltwise(_ node: Node) -> (node: Node, alg: dnnl_alg_kind_t, alpha: Float, beta: Float)? {
            switch node.opType {
            case "Relu": return (node, dnnl_eltwise_relu, 0, 0)
            case "Sigmoid": return (node, dnnl_eltwise_logistic, 0, 0)
            case "HardSwish": return (node, dnnl_eltwise_hardswish, 0, 0)
            case "Clip":
                var lo: Float = -.infinity, hi: Float = .infinity
                if opset < 11 {
                    lo = node.float("min", default: lo)!
                    hi = node.float("max", default: hi)!
                } else {
                    for (i, name) in node.inputs.enumerated().dropFirst() where !name.isEmpty {
                        guard let v = constants[name], v.dataType == .float, v.count == 1 else { return nil }
                        if i == 1 { lo = v.floats[0] } else { hi = v.floats[0] }
                    }
                }
                return (node, dnnl_eltwise_clip_v2, lo, hi)
            default: return nil
            }
        }

        // The graph input, in plain NCHW, bound to the caller's buffer at run time.
        var inputMd = Self.md(inputShape, Self.plainTag(inputShape.count))
        try check(dnnl_memory_create(&inputMemory, &inputMd, engine, cdnnl_memory_none()), "input memory")
        memories.append(inputMemory!)
        // Its slot is never freed (nor bound: the caller's buffer is).
        tensors[inputName] = Tensor(md: inputMd, dims: inputShape, slot: slotBytes.count, memory: inputMemory)
        slotBytes.append(0)
        slotHolders.append(1 << 30)

        var absorbed = Set<String>()  // outputs of activations fused into the op before them
        // A Mul by a per-output-channel constant (the split's scaling factors) that alone reads
        // a Conv's output is folded into that Conv's weights and bias.
        var scaleOf: [String: (values: [Float], output: String)] = [:]
        for node in graph.nodes where node.opType == "Mul" && node.inputs.count == 2 {
            for (i, j) in [(0, 1), (1, 0)] {
                let x = node.inputs[i], c = node.inputs[j]
                guard constants[x] == nil, !parameterNames.contains(c), let scale = constants[c], scale.dataType == .float, readers[x] == 1,
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
        for node in graph.nodes {
            if node.opType == "Constant" || node.outputs.allSatisfy({ constants[$0] != nil }) { continue }
            if absorbed.contains(node.outputs.first ?? "") { continue }
            guard Self.coveredOps.contains(node.opType), node.domain.map({ $0.isEmpty || $0 == "ai.onnx" }) ?? true else {
                throw Unsupported(description: "\(node.displayName): \(node.opType) is not covered by the oneDNN path")
            }
            let activations = node.inputs.filter { !$0.isEmpty && constants[$0] == nil }
            for a in activations where tensors[a] == nil {
                throw Unsupported(description: "\(node.displayName): input '\(a)' is not computed on the oneDNN path")
            }
            let output = node.outputs[0]
            let outDims = try shape(output)
            switch node.opType {
            case "Identity", "Dropout":
                guard node.outputs.count == 1 || node.outputs[1].isEmpty || readers[node.outputs[1]] == nil else {
                    throw Unsupported(description: "\(node.displayName): Dropout's mask is read")
                }
                passOn(node.inputs[0], as: output)

            case "Conv":
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
                let inDims = tensors[x]!.dims
                // Kernel taps that only ever see padding go (a 5x5 depthwise conv on a 1x1
                // plane is a 1x1 conv), which oneDNN's direct kernels need.
                (w, pads) = Self.cropped(w, pads: pads, strides: strides, input: [inDims[2], inDims[3]], output: [outDims[2], outDims[3]])
                let cout = w.shape[0]
                var bias = Self.md([cout], dnnl_a)
                var weightDims = w.shape
                var plainWeights = Self.md(w.shape, dnnl_abcd)
                if group > 1 {
                    weightDims = [group, cout / group] + Array(w.shape[1...])
                    plainWeights = Self.md(weightDims, dnnl_abcde)
                }
                // A conv whose kernel covers its whole unpadded input (1x1 on a 1x1 plane) is a
                // matrix product, run as one (`DNNLDense.swift`) where the conv kernels are
                // several times slower.
                let dense = group == 1 && w.shape[2] == inDims[2] && w.shape[3] == inDims[3] && outDims[2] == 1 && outDims[3] == 1
                    && pads.allSatisfy { $0 == 0 }
                var result = output
                var fused = fusible(output)
                // A matrix product fuses only a clamp (Relu, Clip); another activation runs on its own.
                if dense, let f = fused, Self.clampOf((f.alg, f.alpha, f.beta)) == nil { fused = nil }
                if let fused {
                    result = fused.node.outputs[0]
                    absorbed.insert(result)
                }
                let fusedEltwise = fused.map { ($0.alg, $0.alpha, $0.beta) }
                let biasValues = b?.floats ?? [Float](repeating: 0, count: cout)
                // At batch 1 on a 1x1 plane (the last stages at small inputs) the product reads
                // each weight once, so it is bound by how fast weights stream in: a loop of our
                // own (`cdnnl_gemv`, on oneDNN's OpenMP threads) reads them faster than oneDNN's
                // inner product did, and than `cdnnl_dense` with one row on the larger shapes
                // (measured on this model's shapes, 2 threads). Channel c is at offset c in every
                // layout the plan uses for one image on one position.
                if dense, !training, inDims[0] == 1, inDims[2] * inDims[3] == 1, let source = tensors[x],
                   ChannelLayout(dims: source.dims, md: source.md) != nil, let clamp = Self.clampOf(fusedEltwise) {
                    let columns = w.shape[1]
                    let weights = UnsafeMutablePointer<Float>.allocate(capacity: cout * columns)
                    let biases = UnsafeMutablePointer<Float>.allocate(capacity: cout)
                    w.withElements(as: Float.self) { weights.initialize(from: $0.baseAddress!, count: cout * columns) }
                    biases.initialize(from: biasValues, count: cout)
                    ownedBuffers += [UnsafeMutableRawPointer(weights), UnsafeMutableRawPointer(biases)]
                    let product = try denseProduct(result, Self.md([1, cout], dnnl_ab), outDims: outDims, node)
                    read([x])
                    let (xMemory, yMemory) = (source.memory!, product.memory!)
                    let (low, high) = clamp ?? (-.infinity, .infinity)
                    steps.append(Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: xMemory),
                                                             dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: yMemory)]) {
                        var problem = cdnnl_gemv_problem(weights: weights, x: Self.handle(xMemory), bias: biases, y: Self.handle(yMemory),
                                                         rows: Int32(cout), columns: Int32(columns), low: low, high: high)
                        cdnnl_gemv(&problem)
                    })
                    continue
                }
                if dense {
                    let product = try denseProduct(result, Self.md([outDims[0], cout], dnnl_ab), outDims: outDims, node)
                    try matrixProduct(x, w.floats, outputs: cout, bias: biasValues, into: product, output: result, eltwise: fusedEltwise)
                    continue
                }
                var anyWeights = Self.md(weightDims, dnnl_format_tag_any)
                var anySource = Self.md(inDims, dnnl_format_tag_any)
                var anyDest = Self.md(outDims, dnnl_format_tag_any)
                var desc = dnnl_convolution_desc_t()
                try check(dnnl_convolution_forward_desc_init(&desc, propagation, dnnl_convolution_direct, &anySource, &anyWeights,
                                                             &bias, &anyDest, Self.dims(strides), Self.dims([pads[0], pads[1]]),
                                                             Self.dims([pads[2], pads[3]])), "\(node.displayName): conv descriptor")
                var attr: dnnl_primitive_attr_t?
                dnnl_primitive_attr_create(&attr)
                defer { dnnl_primitive_attr_destroy(attr) }
                if let fused {
                    var ops: dnnl_post_ops_t?
                    dnnl_post_ops_create(&ops)
                    dnnl_post_ops_append_eltwise(ops, 1, fused.alg, fused.alpha, fused.beta)
                    dnnl_primitive_attr_set_post_ops(attr, ops)
                    dnnl_post_ops_destroy(ops)
                }
                var pd: dnnl_primitive_desc_t?
                try check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil), "\(node.displayName): conv")
                defer { dnnl_primitive_desc_destroy(pd) }
                let source = try inLayout(x, queried(pd, dnnl_query_src_md))
                let weights = try constant(w.floats, plain: plainWeights, wanted: queried(pd, dnnl_query_weights_md))
                let biasMemory = try constantMemory(bias, biasValues)
                let product = try define(result, queried(pd, dnnl_query_dst_md), dims: outDims)
                read([source.name])
                try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: source.tensor.memory), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights),
                             dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: biasMemory), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: product.memory)], "conv")
                if training {
                    recipes.append(.conv(Recipe.Conv(hint: try hint(pd), x: x, y: result, weights: w, weightDims: weightDims,
                                                     strides: strides, pads: pads, eltwise: fusedEltwise)))
                }

            case "Relu", "Clip", "Sigmoid", "HardSwish":
                guard let e = eltwise(node) else { throw Unsupported(description: "\(node.displayName): Clip bounds are not constant") }
                var md = tensors[node.inputs[0]]!.md
                var desc = dnnl_eltwise_desc_t()
                try check(dnnl_eltwise_forward_desc_init(&desc, propagation, e.alg, &md, e.alpha, e.beta), "\(node.displayName): eltwise")
                if let kept = try sourceToDestination(&desc, input: node.inputs[0], output: output, dims: outDims, what: "\(node.displayName): eltwise") {
                    recipes.append(.eltwise(hint: kept, x: node.inputs[0], y: output, alg: e.alg, alpha: e.alpha, beta: e.beta))
                }

            case "Add", "Mul":
                guard activations.count >= 1, node.inputs.count == 2 else {
                    throw Unsupported(description: "\(node.displayName): \(node.opType) of two constants")
                }
                // A constant operand becomes a plain-layout constant of the output's rank.
                // A parameter is one too, its buffer filled before each pass.
                let full = node.inputs.compactMap { tensors[$0] }.first { $0.dims == outDims }
                for name in node.inputs where constants[name] != nil && tensors[name] == nil {
                    let c = try floats(name, node)
                    let dims = [Int](repeating: 1, count: outDims.count - c.shape.count) + c.shape
                    let md = full.map { Self.broadcastMd(dims, like: $0.md, dims: outDims) } ?? Self.md(dims, Self.plainTag(dims.count))
                    let memory = try constantMemory(md, c.floats)
                    if parameterNames.contains(name) { parameterBuffers[name] = (UnsafeMutableRawPointer(Self.handle(memory)), c.count) }
                    tensors[name] = Tensor(md: md, dims: dims, slot: slotBytes.count, memory: memory)
                    slotBytes.append(0)
                    slotHolders.append(1 << 30)
                }
                // The full-shape operand first; the other may broadcast ([N, C, 1, 1]).
                var (a, b) = (node.inputs[0], node.inputs[1])
                if tensors[a]!.dims != outDims { swap(&a, &b) }
                guard tensors[a]!.dims == outDims, tensors[b]!.dims.count == outDims.count else {
                    throw Unsupported(description: "\(node.displayName): broadcast of both operands is not covered")
                }
                var first = tensors[a]!.md
                // A constant or parameter per channel ([1, C, 1, 1] or [1, C]): our own loop, one
                // product per element as oneDNN's, without its per-call cost on the small planes.
                if node.opType == "Mul", constants[b] != nil, let layout = ChannelLayout(dims: outDims, md: first),
                   layout.scales(tensors[b]!.dims) {
                    let y = try define(output, first, dims: outDims)
                    read([a, b])
                    steps.append(layout.scaleStep(tensors[a]!.memory!, by: tensors[b]!.memory!, into: y.memory!))
                    if training { recipes.append(.binary(add: false, a: a, b: b, bInLayout: b, y: output)) }
                    channelScaled.insert(output)
                    continue
                }
                let second = tensors[b]!.dims == outDims ? try inLayout(b, first) : (b, tensors[b]!)
                var secondMd = second.tensor.md
                var dest = first
                var desc = dnnl_binary_desc_t()
                try check(dnnl_binary_desc_init(&desc, node.opType == "Add" ? dnnl_binary_add : dnnl_binary_mul, &first, &secondMd, &dest),
                          "\(node.displayName): binary")
                var pd: dnnl_primitive_desc_t?
                try check(dnnl_primitive_desc_create(&pd, &desc, nil, engine, nil), "\(node.displayName): binary")
                defer { dnnl_primitive_desc_destroy(pd) }
                let y = try define(output, queried(pd, dnnl_query_dst_md), dims: outDims)
                read([a, second.name])
                try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: tensors[a]!.memory), dnnl_exec_arg_t(arg: DNNL_ARG_SRC_1, memory: second.tensor.memory),
                             dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory)], "binary")
                if training { recipes.append(.binary(add: node.opType == "Add", a: a, b: b, bInLayout: second.name, y: output)) }

            case "GlobalAveragePool", "ReduceMean", "MaxPool", "AveragePool":
                let x = tensors[node.inputs[0]]!
                guard x.dims.count == 4 else { throw Unsupported(description: "\(node.displayName): only 2-D pooling is covered") }
                var kernel = [x.dims[2], x.dims[3]], strides = [1, 1], pads = [0, 0, 0, 0]
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
                // A 1x1 window over a plane it leaves as it is (a global pool of a 1x1 plane)
                // passes its input on: no step, the same buffer.
                if kernel == [1, 1], outDims == x.dims, pads.allSatisfy({ $0 == 0 }) {
                    passOn(node.inputs[0], as: output)
                    continue
                }
                var source = x.md
                var dest = Self.md(outDims, dnnl_format_tag_any)
                var desc = dnnl_pooling_desc_t()
                try check(dnnl_pooling_forward_desc_init(&desc, propagation, alg, &source, &dest, Self.dims(strides), Self.dims(kernel),
                                                         Self.dims([pads[0], pads[1]]), Self.dims([pads[2], pads[3]])),
                          "\(node.displayName): pooling")
                if let kept = try sourceToDestination(&desc, input: node.inputs[0], output: output, dims: outDims, what: "\(node.displayName): pooling") {
                    recipes.append(.pool(hint: kept, x: node.inputs[0], y: output, alg: alg, kernel: kernel, strides: strides, pads: pads))
                }

            case "Flatten", "Reshape":
                let x = tensors[node.inputs[0]]!
                guard node.int("axis", default: 1) == 1, outDims.count == 2, outDims[0] == x.dims[0] else {
                    throw Unsupported(description: "\(node.displayName): \(node.opType) other than to [N, rest]")
                }
                // The view shares a planned buffer; the graph input's is the caller's, so it is copied.
                let plain = try inLayout(node.inputs[0], Self.md(x.dims, Self.plainTag(x.dims.count)), copy: x.memory == inputMemory)
                _ = try define(output, Self.md(outDims, dnnl_ab), dims: outDims, slot: plain.tensor.slot)
                read([plain.name])
                recipes.append(.view(x: node.inputs[0], y: output))

            case "Gemm":
                let x = tensors[node.inputs[0]]!
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
                let y = try define(output, Self.md(outDims, dnnl_ab), dims: outDims)
                try matrixProduct(node.inputs[0], weights, outputs: n, bias: b?.floats, into: y, output: output, eltwise: nil)

            case "Concat":
                let axis = node.int("axis", default: 1)!
                guard axis == 1 || axis == 1 - outDims.count, activations.count == node.inputs.count, !training else {
                    throw Unsupported(description: "\(node.displayName): Concat other than of activations along channels, or in training")
                }
                let parts = node.inputs.map { tensors[$0]! }
                var descs = parts.map(\.md)
                var pd: dnnl_primitive_desc_t?
                try check(dnnl_concat_primitive_desc_create(&pd, nil, Int32(parts.count), 1, &descs, nil, engine), "\(node.displayName): concat")
                defer { dnnl_primitive_desc_destroy(pd) }
                let y = try define(output, queried(pd, dnnl_query_dst_md), dims: outDims)
                read(node.inputs)
                var args = [dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory)]
                for (i, p) in parts.enumerated() { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_MULTIPLE_SRC + Int32(i), memory: p.memory)) }
                try add(pd, args, "concat")

            default:
                throw Unsupported(description: "\(node.displayName): \(node.opType) is not covered by the oneDNN path")
            }
        }

        // Graph outputs in plain layout, in buffers of their own.
        for output in graph.outputs {
            guard let t = tensors[output.name] else { throw Unsupported(description: "output '\(output.name)' is not computed on the oneDNN path") }
            var plain = Self.md(t.dims, Self.plainTag(t.dims.count))
            var from = t.md
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(dnnl_memory_desc_get_size(&plain), 4), alignment: 64)
            ownedBuffers.append(buffer)
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &plain, engine, buffer), "output memory")
            memories.append(memory!)
            var pd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&pd, &from, engine, &plain, engine, nil), "output reorder")
            defer { dnnl_primitive_desc_destroy(pd) }
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: t.memory), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: memory)], "output reorder")
            outputs.append((output.name, memory!, t.dims))
        }

        // One buffer per slot, bound to every memory planned into it.
        slotBuffers = slotBytes.map { UnsafeMutableRawPointer.allocate(byteCount: max($0, 64), alignment: 64) }
        batchBytes += slotBytes.reduce(0) { $0 + max($1, 64) }
        for (memory, s) in bindings { dnnl_memory_set_data_handle(memory, slotBuffers[s]) }
    }
}
