internal import CDNNL
internal import CDNNLKernels
import Foundation

/// The backward sweep of a training-mode `DNNLForward`: gradients of the loss w.r.t. the
/// parameters (the split's scaling factors, filter pruning's masks), from a seed w.r.t. the
/// first graph output. Every weight is frozen, so only data gradients flow: a conv's through
/// oneDNN's backward-data primitive, an activation's through its eltwise backward (from its
/// output where the forward fused it into the conv), pooling's through pooling backward, a
/// residual Add's to both operands; a parameter's gradient is the product of the output's
/// gradient with the other operand, summed by a reduction over the axes the parameter
/// broadcasts along. Ops on no path from a parameter to the loss get no backward step.
extension DNNLForward {
    /// What one op of the forward pass needs for its backward step.
    enum Recipe {
        struct Conv {
            var hint: dnnl_primitive_desc_t
            var x: String
            /// The conv's output, after the activation fused into it.
            var y: String
            var weights: Value
            var weightDims: [Int]
            var strides: [Int]
            var pads: [Int]
            var eltwise: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?
        }

        /// LayerNormalization over the channels of `x` (`lowerChannelNorm`); `input` is the
        /// memory the forward step read (`x`, or its copy in a channel layout).
        struct ChannelNorm {
            var x: String
            var input: dnnl_memory_t
            var y: String
            var layout: ChannelLayout
            var scale: UnsafeMutablePointer<Float>
            /// Channel weights of a masked graph (held fixed), nil for none.
            var weights: UnsafeMutablePointer<Float>?
            var epsilon: Float
        }

        case conv(Conv)
        case channelNorm(ChannelNorm)
        case eltwise(hint: dnnl_primitive_desc_t, x: String, y: String, alg: dnnl_alg_kind_t, alpha: Float, beta: Float)
        /// `y = a + b` or `a * b`; `b` may broadcast, `bInLayout` is `b` in `a`'s layout.
        case binary(add: Bool, a: String, b: String, bInLayout: String, y: String)
        case pool(hint: dnnl_primitive_desc_t, x: String, y: String, alg: dnnl_alg_kind_t, kernel: [Int], strides: [Int], pads: [Int])
        /// Flatten/Reshape to `[N, rest]` (a plain view).
        case view(x: String, y: String)
        /// A matrix product on `cdnnl_dense` (a Gemm, or a conv covering a 1x1 plane) with
        /// its activation fused: `transposed` holds `W'` packed, for `dx = dz W`.
        case dense(x: String, y: String, transposed: DenseWeights, eltwise: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?)
        case identity(x: String, y: String)

        var inputs: [String] {
            switch self {
            case .conv(let c): [c.x]
            case .channelNorm(let n): [n.x]
            case .eltwise(_, let x, _, _, _, _), .pool(_, let x, _, _, _, _, _), .view(let x, _), .dense(let x, _, _, _), .identity(let x, _): [x]
            case .binary(_, let a, let b, _, _): [a, b]
            }
        }

        var output: String {
            switch self {
            case .conv(let c): c.y
            case .channelNorm(let n): n.y
            case .eltwise(_, _, let y, _, _, _), .pool(_, _, let y, _, _, _, _), .view(_, let y), .dense(_, let y, _, _), .identity(_, let y),
                 .binary(_, _, _, _, let y): y
            }
        }
    }

    /// The variant of an activation whose backward reads its output; nil when there is none
    /// (such an activation is not fused into a conv in training).
    static func usingOutput(_ alg: dnnl_alg_kind_t) -> dnnl_alg_kind_t? {
        switch alg {
        case dnnl_eltwise_relu: dnnl_eltwise_relu_use_dst_for_bwd
        case dnnl_eltwise_clip_v2: dnnl_eltwise_clip_v2_use_dst_for_bwd
        case dnnl_eltwise_logistic: dnnl_eltwise_logistic_use_dst_for_bwd
        default: nil
        }
    }

    /// The bounds whose open interval passes the gradient, for the output-reading backward
    /// of a clip or a ReLU without a slope (`cdnnl_clip_backward`); nil for the others.
    static func clipBounds(_ alg: dnnl_alg_kind_t, alpha: Float, beta: Float) -> (low: Float, high: Float)? {
        switch alg {
        case dnnl_eltwise_clip_v2_use_dst_for_bwd: (alpha, beta)
        case dnnl_eltwise_relu_use_dst_for_bwd where alpha == 0: (0, .infinity)
        default: nil
        }
    }

    /// Where the seed (d loss / d first output, plain) and each parameter's gradients land.
    struct BackwardEnds {
        var seed: dnnl_memory_t
        var seedCount: Int
        /// Per parameter use: plain memory of the parameter's elements.
        var parameterGradients: [(name: String, memory: dnnl_memory_t, count: Int)]
    }

    /// A zeroed buffer owned by the plan and a memory of `md` over it.
    func ownedMemory(_ md: dnnl_memory_desc_t) throws(Unsupported) -> dnnl_memory_t {
        try constantMemory(md, [])
    }

    /// A second memory of `md` over the buffer of `memory` (a view).
    func view(_ memory: dnnl_memory_t, as md: dnnl_memory_desc_t) throws(Unsupported) -> dnnl_memory_t {
        var md = md
        var result: dnnl_memory_t?
        try check(dnnl_memory_create(&result, &md, engine, Self.handle(memory)), "view memory")
        memories.append(result!)
        return result!
    }

    func buildBackward(_ graph: Graph) throws(Unsupported) {
        guard let logits = graph.outputs.first?.name, let logitsTensor = tensors[logits] else {
            throw Unsupported(description: "the first output is not computed on the oneDNN path")
        }
        for name in parameterNames.sorted() where parameterBuffers[name] == nil {
            throw Unsupported(description: "parameter '\(name)' is not an operand of an Add or Mul on the oneDNN path")
        }
        // Which values depend on a parameter, and which ops lie on a path to the loss.
        var dependent = parameterNames
        for r in recipes where r.inputs.contains(where: dependent.contains) { dependent.insert(r.output) }
        var reaches: Set<String> = [logits]
        var active = [Bool](repeating: false, count: recipes.count)
        for (i, r) in recipes.enumerated().reversed() where reaches.contains(r.output) && r.inputs.contains(where: dependent.contains) {
            active[i] = true
            for x in r.inputs where dependent.contains(x) { reaches.insert(x) }
        }

        // The backward steps, one op at a time (`DNNLBackwardLowering.swift`).
        let lowering = BackwardLowering(self, dependent: dependent)
        // The seed, plain [N, classes], is the first output's gradient.
        let seedMd = Self.md(logitsTensor.dims, Self.plainTag(logitsTensor.dims.count))
        let seed = try ownedMemory(seedMd)
        lowering.gradients[logits] = try lowering.inLayout(seed, logitsTensor.md)

        for (i, recipe) in recipes.enumerated().reversed() where active[i] {
            guard let dy = lowering.gradients[recipe.output] else { continue }
            try lowering.lower(recipe, dy: dy)
        }
        try bindScratch(lowering.scratchBytes, aliasRoot: lowering.aliasRoot)
        backwardEnds = BackwardEnds(seed: seed, seedCount: logitsTensor.dims.reduce(1, *), parameterGradients: lowering.parameterGradients)
        for h in hints { dnnl_primitive_desc_destroy(h) }
        hints = []
    }

    /// Gives every `scratch` memory (and its aliases) a buffer: each lives from the first to
    /// the last backward step that names it, and buffers are shared best-fit between memories
    /// whose lives do not overlap (one taken at a step is never one freed at the same step, so
    /// no step writes over its own input).
    private func bindScratch(_ bytes: [dnnl_memory_t: Int], aliasRoot: [dnnl_memory_t: dnnl_memory_t]) throws(Unsupported) {
        var first: [dnnl_memory_t: Int] = [:], last: [dnnl_memory_t: Int] = [:]
        for (s, step) in backwardSteps.enumerated() {
            for arg in step.args {
                guard let m = arg.memory else { continue }
                let root = aliasRoot[m] ?? m
                guard bytes[root] != nil else { continue }
                if first[root] == nil { first[root] = s }
                last[root] = s
            }
        }
        let roots = first.keys.sorted { (first[$0]!, last[$0]!, bytes[$0]!) < (first[$1]!, last[$1]!, bytes[$1]!) }
        var slotBytes: [Int] = [], free: [Int] = [], slotOf: [dnnl_memory_t: Int] = [:]
        var next = 0
        for s in backwardSteps.indices {
            while next < roots.count, first[roots[next]]! == s {
                let need = bytes[roots[next]]!
                let fits = free.indices.filter { slotBytes[free[$0]] >= need }.min { slotBytes[free[$0]] < slotBytes[free[$1]] }
                let chosen: Int
                if let f = fits ?? free.indices.max(by: { slotBytes[free[$0]] < slotBytes[free[$1]] }) {
                    chosen = free.remove(at: f)
                    slotBytes[chosen] = max(slotBytes[chosen], need)
                } else {
                    slotBytes.append(need)
                    chosen = slotBytes.count - 1
                }
                slotOf[roots[next]] = chosen
                next += 1
            }
            for root in roots where last[root]! == s { free.append(slotOf[root]!) }
        }
        batchBytes += slotBytes.reduce(0, +)
        let buffers = slotBytes.map { size -> UnsafeMutableRawPointer in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            ownedBuffers.append(buffer)
            return buffer
        }
        for (root, slot) in slotOf { try check(dnnl_memory_set_data_handle(root, buffers[slot]), "gradient buffer") }
        for (m, root) in aliasRoot {
            guard let slot = slotOf[root] else { continue }
            try check(dnnl_memory_set_data_handle(m, buffers[slot]), "gradient buffer")
        }
    }

    /// Whether a layout has padding (a blocked layout over channels that are not a multiple of the block).
    static func padded(_ md: dnnl_memory_desc_t) -> Bool {
        let count = withUnsafeBytes(of: md.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(md.ndims))) }.reduce(1, *)
        return bytes(md) != Int(count) * 4
    }

    /// One training pass: the forward pass with `parameters`, `seeds` made from the first
    /// output (plain `[N, classes]`), then one backward sweep per seed, each giving every
    /// parameter's gradient (zeros where it does not reach the loss).
    func train(_ input: Value, parameters: [String: Value], seeds: (Value) throws(EngineError) -> LossSeeds)
        throws(EngineError) -> (seeds: LossSeeds, gradients: [[String: Value]]) {
        lock.lock()
        defer { lock.unlock() }
        for (name, target) in parameterBuffers {
            guard let value = parameters[name], value.count == target.count, value.dataType == .float else {
                throw .graph("parameter '\(name)' is missing or has the wrong size")
            }
            value.withElements(as: Float.self) { target.buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count * 4) }
        }
        let logits = outputs[0]
        input.withElements(as: Float.self) { x in
            dnnl_memory_set_data_handle(inputMemory, UnsafeMutableRawPointer(mutating: x.baseAddress))
            execute(steps)
        }
        let made = try seeds(Self.value(of: logits.memory, dims: logits.dims))
        let ends = backwardEnds!
        var sweeps: [[String: Value]] = []
        for seed in made.seeds {
            guard seed.count == ends.seedCount else { throw .graph("a seed of \(seed.count) values for \(ends.seedCount) logits") }
            seed.withElements(as: Float.self) { Self.handle(ends.seed).update(from: $0.baseAddress!, count: $0.count) }
            // No backward step reads the input.
            execute(backwardSteps)
            var result: [String: Value] = [:]
            for name in parameterNames { result[name] = Value(shape: parameters[name]!.shape, floats: [Float](repeating: 0, count: parameters[name]!.count)) }
            for g in ends.parameterGradients {
                let part = Self.handle(g.memory)
                result[g.name]!.withMutableElements(as: Float.self) { s in for i in 0..<g.count { s[i] += part[i] } }
            }
            sweeps.append(result)
        }
        return (made, sweeps)
    }

    func execute(_ list: [Step]) {
        for step in list {
            if let custom = step.custom {
                custom()
                continue
            }
            step.args.withUnsafeBufferPointer { args in
                _ = dnnl_primitive_execute(step.primitive, stream, Int32(args.count), args.baseAddress)
            }
        }
        dnnl_stream_wait(stream)
    }

    static func handle(_ memory: dnnl_memory_t) -> UnsafeMutablePointer<Float> {
        var handle: UnsafeMutableRawPointer?
        dnnl_memory_get_data_handle(memory, &handle)
        return handle!.assumingMemoryBound(to: Float.self)
    }

    /// A copy of the plain-layout `memory` as a value of `dims`.
    static func value(of memory: dnnl_memory_t, dims: [Int]) -> Value {
        let value = Value(uninitialized: .float, shape: dims)
        value.withMutableElements(as: Float.self) { $0.baseAddress!.update(from: handle(memory), count: $0.count) }
        return value
    }
}

/// Where channel `c` of image `n` at position `p` lies in a `[N, C, H, W]` (or `[N, C]`)
/// activation: plain, or blocked by 8 or 16 channels as oneDNN's `nChw8c`/`nChw16c`.
struct ChannelLayout {
    var images: Int
    var channels: Int
    var positions: Int
    /// Channels per block (1 for plain).
    var block: Int

    init(images: Int, channels: Int, positions: Int, block: Int) {
        (self.images, self.channels, self.positions, self.block) = (images, channels, positions, block)
    }

    init?(dims: [Int], md: dnnl_memory_desc_t) {
        guard dims.count == 2 || dims.count == 4 else { return nil }
        images = dims[0]
        channels = dims[1]
        positions = dims.dropFirst(2).reduce(1, *)
        let tags: [(dnnl_format_tag_t, Int)] = dims.count == 2 ? [(dnnl_ab, 1)] : [(dnnl_abcd, 1), (dnnl_aBcd8b, 8), (dnnl_aBcd16b, 16)]
        guard let match = tags.first(where: { DNNLForward.equal(md, DNNLForward.md(dims, $0.0)) }) else { return nil }
        block = match.1
    }

    /// Whether an operand of `dims` holds one value per channel of this layout's tensor
    /// ([1, C, 1, 1] or [1, C]).
    func scales(_ dims: [Int]) -> Bool {
        dims.count >= 2 && dims[1] == channels && dims.enumerated().allSatisfy { $0.offset == 1 || $0.element == 1 }
    }

    /// The step `y = x * scale[c]` at channel `c` (`cdnnl_channel_scale`, on oneDNN's OpenMP
    /// threads) over memories of this layout; `scale`'s buffer holds the channels' values in
    /// order.
    func scaleStep(_ x: dnnl_memory_t, by scale: dnnl_memory_t, into y: dnnl_memory_t) -> DNNLForward.Step {
        DNNLForward.Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: x), dnnl_exec_arg_t(arg: DNNL_ARG_SRC_1, memory: scale),
                                                dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y)]) {
            var problem = cdnnl_channel_scale_problem(x: DNNLForward.handle(x), scale: DNNLForward.handle(scale), y: DNNLForward.handle(y),
                                                      images: Int32(images), channels: Int32(channels), positions: Int32(positions),
                                                      block: Int32(block))
            cdnnl_channel_scale(&problem)
        }
    }

    /// `result[c]` = the sum over images and positions of `dy * x` at channel `c`
    /// (`cdnnl_channel_dot`, on oneDNN's OpenMP threads so the two never compete for the
    /// cores); each block of channels is summed by one thread in a fixed order, so the result
    /// does not depend on the number of threads.
    func channelDot(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, into result: UnsafeMutablePointer<Float>) {
        var problem = cdnnl_channel_dot_problem(dy: dy, x: x, result: result, images: Int32(images), channels: Int32(channels),
                                                positions: Int32(positions), block: Int32(block))
        cdnnl_channel_dot(&problem)
    }
}
