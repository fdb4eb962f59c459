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
        // The per-op lowering (`DNNLForwardLowering.swift`, `DNNLConvLowering.swift`) and its
        // buffer plan (`DNNLBufferPlan.swift`).
        let lowering = Lowering(self, graph: graph, opset: opset, constants: constants, facts: facts)
        try lowering.defineInput()
        lowering.foldScales()
        for node in graph.nodes { try lowering.lower(node) }
        try lowering.defineOutputs()

        // One buffer per slot, bound to every memory planned into it.
        slotBytes = lowering.plan.slotBytes
        slotBuffers = slotBytes.map { UnsafeMutableRawPointer.allocate(byteCount: max($0, 64), alignment: 64) }
        batchBytes += slotBytes.reduce(0) { $0 + max($1, 64) }
        for (memory, s) in lowering.plan.bindings { dnnl_memory_set_data_handle(memory, slotBuffers[s]) }
    }
}
