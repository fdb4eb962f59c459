internal import CDNNL
internal import CDNNLKernels
import Foundation

extension DNNLForward {
    /// The state of one `buildBackward`: the gradients made so far and the gradient buffers to
    /// plan (`bindScratch`), with one method per recipe that appends its op's backward steps.
    final class BackwardLowering {
        let forward: DNNLForward
        /// The values that depend on a parameter (the others get no gradient).
        let dependent: Set<String>
        /// The gradient of each value, in that value's layout, once an op has contributed to it.
        var gradients: [String: dnnl_memory_t] = [:]
        // Gradient buffers are planned like activations: a memory made by `scratch` gets its
        // buffer once the sweep is built, shared with others whose steps do not overlap.
        var scratchBytes: [dnnl_memory_t: Int] = [:]
        var aliasRoot: [dnnl_memory_t: dnnl_memory_t] = [:]
        /// Per use of a parameter: its gradient (plain, in a buffer of its own) and element count.
        var parameterGradients: [(name: String, memory: dnnl_memory_t, count: Int)] = []

        init(_ forward: DNNLForward, dependent: Set<String>) {
            self.forward = forward
            self.dependent = dependent
        }

        /// The backward steps of one forward op, from `dy`, the gradient of its output.
        func lower(_ recipe: Recipe, dy: dnnl_memory_t) throws(Unsupported) {
            switch recipe {
            case .identity(let x, _): try contribute(x, dy, alias: true)
            case .view(let x, _): try viewGradient(x, dy)
            case .eltwise(let hint, let x, let y, let alg, let alpha, let beta):
                try eltwiseGradient(hint: hint, x: x, y: y, alg: alg, alpha: alpha, beta: beta, dy)
            case .binary(let isAdd, let a, let b, let bInLayout, let y):
                if isAdd {
                    try sumGradients(a: a, b: b, y: y, dy)
                } else {
                    try productGradients(a: a, b: b, bInLayout: bInLayout, y: y, dy)
                }
            case .pool(let hint, let x, let y, let alg, let kernel, let strides, let pads):
                try poolGradient(hint: hint, x: x, y: y, alg: alg, kernel: kernel, strides: strides, pads: pads, dy)
            case .dense(let x, let y, let transposed, let eltwise): try denseGradient(x: x, y: y, transposed: transposed, eltwise: eltwise, dy)
            case .conv(let c): try convGradient(c, dy)
            case .channelNorm(let n): try channelNormGradient(n, dy)
            }
        }

        /// LayerNormalization over channels: our own step, from `dy` in the layout the forward
        /// step read, into a gradient of that layout.
        func channelNormGradient(_ n: Recipe.ChannelNorm, _ dy: dnnl_memory_t) throws(Unsupported) {
            let data = md(of: n.input)
            let (xMemory, dyMemory) = (n.input, try inLayout(dy, data))
            let dx = try scratch(data)
            let (layout, scale, weights, epsilon) = (n.layout, n.scale, n.weights, n.epsilon)
            forward.backwardSteps.append(Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: xMemory),
                                                             dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: dyMemory),
                                                             dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dx)]) {
                var problem = cdnnl_channel_norm_backward_problem(x: DNNLForward.handle(xMemory), scale: scale, weights: weights, dy: DNNLForward.handle(dyMemory),
                                                                  dx: DNNLForward.handle(dx), images: Int32(layout.images), channels: Int32(layout.channels),
                                                                  positions: Int32(layout.positions), block: Int32(layout.block), epsilon: epsilon)
                cdnnl_channel_norm_backward(&problem)
            })
            try contribute(n.x, dx, alias: true)
        }

        /// Flatten/Reshape: `dy` seen in `x`'s dims (plain).
        func viewGradient(_ x: String, _ dy: dnnl_memory_t) throws(Unsupported) {
            let t = forward.tensors[x]!
            try contribute(x, try alias(dy, as: DNNLForward.md(t.dims, DNNLForward.plainTag(t.dims.count))), alias: true)
        }

        func eltwiseGradient(hint: dnnl_primitive_desc_t, x: String, y: String, alg: dnnl_alg_kind_t, alpha: Float, beta: Float,
                             _ dy: dnnl_memory_t) throws(Unsupported) {
            var data = forward.tensors[x]!.md, diff = forward.tensors[y]!.md
            var desc = dnnl_eltwise_desc_t()
            try forward.check(dnnl_eltwise_backward_desc_init(&desc, alg, &diff, &data, alpha, beta), "eltwise backward of \(y)")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, hint), "eltwise backward of \(y)")
            defer { dnnl_primitive_desc_destroy(pd) }
            let dx = try scratch(queried(pd, dnnl_query_diff_src_md))
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: forward.tensors[x]!.memory), dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: try inLayout(dy, diff)),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dx)], "eltwise backward")
            try contribute(x, dx, alias: true)
        }

        /// `y = a + b`: `dy` to both (`b` of `y`'s dims).
        func sumGradients(a: String, b: String, y: String, _ dy: dnnl_memory_t) throws(Unsupported) {
            let yDims = forward.tensors[y]!.dims
            try contribute(a, dy, alias: true)
            if dependent.contains(b) {
                guard forward.tensors[b]!.dims == yDims else { throw Unsupported(description: "the gradient of a broadcast Add operand '\(b)' is not covered") }
                try contribute(b, dy, alias: false)
            }
        }

        /// `y = a * b`: `dy * b` to `a`, and `dy * a` to `b`, summed over the axes `b`
        /// broadcasts along (for a parameter, into its own gradient buffer).
        func productGradients(a: String, b: String, bInLayout: String, y: String, _ dy: dnnl_memory_t) throws(Unsupported) {
            let yDims = forward.tensors[y]!.dims
            if dependent.contains(a) {
                if forward.channelScaled.contains(y), let layout = ChannelLayout(dims: yDims, md: md(of: dy)) {
                    // dy times the channel's constant or parameter, as the forward step.
                    let dx = try scratch(md(of: dy))
                    forward.backwardSteps.append(layout.scaleStep(dy, by: forward.tensors[b]!.memory!, into: dx))
                    try contribute(a, dx, alias: true)
                } else {
                    try contribute(a, try product(dy, forward.tensors[bInLayout]!.memory!), alias: true)
                }
            }
            if dependent.contains(b) {
                let bDims = forward.tensors[b]!.dims
                if let p = forward.parameterBuffers[b], let layout = ChannelLayout(dims: yDims, md: md(of: dy)), DNNLForward.equal(md(of: dy), forward.tensors[a]!.md),
                   p.count == yDims[1] {
                    // The per-channel sum of dy * a, in one pass over both.
                    let result = try forward.ownedMemory(DNNLForward.md([p.count], dnnl_a))
                    let (dyMemory, aMemory) = (dy, forward.tensors[a]!.memory!)
                    // (The args only name what the step touches, for the buffer plan.)
                    forward.backwardSteps.append(Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: dyMemory),
                                                                     dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: aMemory),
                                                                     dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: result)]) {
                        layout.channelDot(DNNLForward.handle(dyMemory), DNNLForward.handle(aMemory), into: DNNLForward.handle(result))
                    })
                    parameterGradients.append((b, result, p.count))
                } else if let p = forward.parameterBuffers[b] {
                    let full = try product(dy, forward.tensors[a]!.memory!)
                    parameterGradients.append((b, try reduced(full, yDims, to: bDims, parameter: true), p.count))
                } else if bDims == yDims {
                    try contribute(b, try product(dy, forward.tensors[a]!.memory!), alias: true)
                } else {
                    try contribute(b, try reduced(try product(dy, forward.tensors[a]!.memory!), yDims, to: bDims), alias: true)
                }
            }
        }

        func poolGradient(hint: dnnl_primitive_desc_t, x: String, y: String, alg: dnnl_alg_kind_t, kernel: [Int], strides: [Int], pads: [Int],
                          _ dy: dnnl_memory_t) throws(Unsupported) {
            var diffSource = DNNLForward.md(forward.tensors[x]!.dims, dnnl_format_tag_any), diffDest = forward.tensors[y]!.md
            var desc = dnnl_pooling_desc_t()
            try forward.check(dnnl_pooling_backward_desc_init(&desc, alg, &diffSource, &diffDest, DNNLForward.dims(strides), DNNLForward.dims(kernel),
                                                      DNNLForward.dims([pads[0], pads[1]]), DNNLForward.dims([pads[2], pads[3]])), "pooling backward of \(y)")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, hint), "pooling backward of \(y)")
            defer { dnnl_primitive_desc_destroy(pd) }
            let dx = try scratch(queried(pd, dnnl_query_diff_src_md))
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: try inLayout(dy, queried(pd, dnnl_query_diff_dst_md))),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dx)], "pooling backward")
            try contribute(x, dx, alias: true)
        }

        /// A matrix product on `cdnnl_dense`: `dx = dz W` with `W'` packed in `transposed`.
        func denseGradient(x: String, y: String, transposed: DenseWeights, eltwise: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?,
                           _ dy: dnnl_memory_t) throws(Unsupported) {
            let dz = try activationGradient(dy, y: y, eltwise)
            let yDims = forward.tensors[y]!.dims, xTensor = forward.tensors[x]!
            var dzIn = dz, dzStride = DNNLForward.rowStride(dims: yDims, md: md(of: dz))
            if dzStride == nil {
                dzIn = try inLayout(dz, DNNLForward.md(yDims, DNNLForward.plainTag(yDims.count)))
                dzStride = transposed.columns
            }
            var dxMd = xTensor.md, dxStride = DNNLForward.rowStride(dims: xTensor.dims, md: dxMd)
            if dxStride == nil {
                dxMd = DNNLForward.md(xTensor.dims, DNNLForward.plainTag(xTensor.dims.count))
                dxStride = transposed.outputs
            }
            let dx = try scratch(dxMd)
            forward.backwardSteps.append(DNNLForward.denseStep(transposed, rows: yDims[0], x: dzIn, xStride: dzStride!, y: dx, yStride: dxStride!, clamp: nil,
                                                args: [dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: dzIn), dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dx)]))
            try contribute(x, dx, alias: true)
        }

        /// A conv's data gradient through oneDNN's backward-data primitive.
        func convGradient(_ c: Recipe.Conv, _ dy: dnnl_memory_t) throws(Unsupported) {
            let dz = try activationGradient(dy, y: c.y, c.eltwise)
            let inDims = forward.tensors[c.x]!.dims
            var diffSource = DNNLForward.md(inDims, dnnl_format_tag_any), anyWeights = DNNLForward.md(c.weightDims, dnnl_format_tag_any)
            var diffDest = DNNLForward.md(forward.tensors[c.y]!.dims, dnnl_format_tag_any)
            var desc = dnnl_convolution_desc_t()
            try forward.check(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &diffSource, &anyWeights, &diffDest, DNNLForward.dims(c.strides),
                                                              DNNLForward.dims([c.pads[0], c.pads[1]]), DNNLForward.dims([c.pads[2], c.pads[3]])),
                      "conv backward of \(c.y)")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, c.hint), "conv backward of \(c.y)")
            defer { dnnl_primitive_desc_destroy(pd) }
            let plainWeights = DNNLForward.md(c.weightDims, DNNLForward.plainTag(c.weightDims.count))
            let w = try forward.constant(c.weights.floats, plain: plainWeights, wanted: queried(pd, dnnl_query_weights_md))
            let dx = try scratch(queried(pd, dnnl_query_diff_src_md))
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: try inLayout(dz, queried(pd, dnnl_query_diff_dst_md))),
                         dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: w), dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dx)], "conv backward")
            try contribute(c.x, dx, alias: true)
        }

        // MARK: - helpers

        func scratch(_ md: dnnl_memory_desc_t) throws(Unsupported) -> dnnl_memory_t {
            // A layout with padding (channels not a multiple of the block) keeps a zeroed
            // buffer of its own: the padding must stay zero.
            guard !DNNLForward.padded(md) else { return try forward.ownedMemory(md) }
            var md = md
            var memory: dnnl_memory_t?
            try forward.check(dnnl_memory_create(&memory, &md, forward.engine, cdnnl_memory_none()), "gradient memory")
            forward.memories.append(memory!)
            scratchBytes[memory!] = max(DNNLForward.bytes(md), 4)
            return memory!
        }
        /// `memory` seen as `md`, sharing its buffer.
        func alias(_ memory: dnnl_memory_t, as md: dnnl_memory_desc_t) throws(Unsupported) -> dnnl_memory_t {
            let root = aliasRoot[memory] ?? memory
            guard scratchBytes[root] != nil else { return try forward.view(memory, as: md) }
            var md = md
            var result: dnnl_memory_t?
            try forward.check(dnnl_memory_create(&result, &md, forward.engine, cdnnl_memory_none()), "view memory")
            forward.memories.append(result!)
            aliasRoot[result!] = root
            return result!
        }
        func add(_ pd: dnnl_primitive_desc_t?, _ args: [dnnl_exec_arg_t], _ what: String) throws(Unsupported) {
            forward.backwardSteps.append(Step(primitive: try forward.primitive(pd, what), args: args))
        }
        func queried(_ pd: dnnl_primitive_desc_t?, _ what: dnnl_query_t) -> dnnl_memory_desc_t {
            DNNLForward.queried(pd, what)
        }
        func md(of memory: dnnl_memory_t) -> dnnl_memory_desc_t {
            var pointer: UnsafePointer<dnnl_memory_desc_t>?
            dnnl_memory_get_memory_desc(memory, &pointer)
            return pointer!.pointee
        }
        /// `memory` in layout `wanted`: itself, or a reorder of it into a new buffer (always,
        /// with `copy`).
        func inLayout(_ memory: dnnl_memory_t, _ wanted: dnnl_memory_desc_t, copy: Bool = false) throws(Unsupported) -> dnnl_memory_t {
            var from = md(of: memory), to = wanted
            if DNNLForward.equal(from, to) && !copy { return memory }
            let target = try scratch(to)
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_reorder_primitive_desc_create(&pd, &from, forward.engine, &to, forward.engine, nil), "gradient reorder")
            defer { dnnl_primitive_desc_destroy(pd) }
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: memory), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: target)], "gradient reorder")
            return target
        }
        /// Adds `gradient` to the gradient of `x` (in `x`'s layout). The first contribution is
        /// used as it is when `alias` allows (no other gradient shares its buffer), else copied.
        func contribute(_ x: String, _ gradient: dnnl_memory_t, alias: Bool) throws(Unsupported) {
            guard dependent.contains(x), let t = forward.tensors[x] else { return }
            let wanted = t.md
            if let existing = gradients[x] {
                let g = try inLayout(gradient, wanted)
                var a = wanted, b = wanted, c = wanted
                var desc = dnnl_binary_desc_t()
                try forward.check(dnnl_binary_desc_init(&desc, dnnl_binary_add, &a, &b, &c), "gradient sum of \(x)")
                var pd: dnnl_primitive_desc_t?
                try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, nil), "gradient sum of \(x)")
                defer { dnnl_primitive_desc_destroy(pd) }
                try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: existing), dnnl_exec_arg_t(arg: DNNL_ARG_SRC_1, memory: g),
                             dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: existing)], "gradient sum")
            } else {
                gradients[x] = try inLayout(gradient, wanted, copy: !alias)
            }
        }
        /// The gradient w.r.t. an op's output before the activation fused into it (from the
        /// activated output `y`), or `dy` itself with none.
        func activationGradient(_ dy: dnnl_memory_t, y: String, _ e: (alg: dnnl_alg_kind_t, alpha: Float, beta: Float)?) throws(Unsupported) -> dnnl_memory_t {
            guard let e, let alg = DNNLForward.usingOutput(e.alg) else { return dy }
            let y = forward.tensors[y]!
            var data = y.md
            if let bounds = DNNLForward.clipBounds(alg, alpha: e.alpha, beta: e.beta) {
                // Our own loop: the same products, without oneDNN's per-block calls, which on
                // small planes in a blocked layout took several times as long as on plain ones.
                let (yMemory, dyMemory) = (y.memory!, try inLayout(dy, data))
                let dz = try scratch(data)
                let count = DNNLForward.bytes(data) / MemoryLayout<Float>.size
                forward.backwardSteps.append(Step(primitive: nil, args: [dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: yMemory),
                                                                 dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: dyMemory),
                                                                 dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dz)]) {
                    var problem = cdnnl_clip_backward_problem(y: DNNLForward.handle(yMemory), dy: DNNLForward.handle(dyMemory), dx: DNNLForward.handle(dz),
                                                              count: count, low: bounds.low, high: bounds.high)
                    cdnnl_clip_backward(&problem)
                })
                return dz
            }
            var forwardDesc = dnnl_eltwise_desc_t()
            try forward.check(dnnl_eltwise_forward_desc_init(&forwardDesc, dnnl_forward_training, alg, &data, e.alpha, e.beta), "eltwise hint")
            var forwardPd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&forwardPd, &forwardDesc, nil, forward.engine, nil), "eltwise hint")
            defer { dnnl_primitive_desc_destroy(forwardPd) }
            var desc = dnnl_eltwise_desc_t()
            var diff = y.md
            try forward.check(dnnl_eltwise_backward_desc_init(&desc, alg, &diff, &data, e.alpha, e.beta), "eltwise backward")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, forwardPd), "eltwise backward")
            defer { dnnl_primitive_desc_destroy(pd) }
            let dz = try scratch(queried(pd, dnnl_query_diff_src_md))
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: y.memory), dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST, memory: try inLayout(dy, diff)),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC, memory: dz)], "eltwise backward")
            return dz
        }
        /// `a * b` elementwise into a new buffer in `a`'s layout (`b` may broadcast).
        func product(_ a: dnnl_memory_t, _ b: dnnl_memory_t) throws(Unsupported) -> dnnl_memory_t {
            var first = md(of: a), second = md(of: b), dest = md(of: a)
            var desc = dnnl_binary_desc_t()
            try forward.check(dnnl_binary_desc_init(&desc, dnnl_binary_mul, &first, &second, &dest), "gradient product")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, nil), "gradient product")
            defer { dnnl_primitive_desc_destroy(pd) }
            let result = try scratch(dest)
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: a), dnnl_exec_arg_t(arg: DNNL_ARG_SRC_1, memory: b),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: result)], "gradient product")
            return result
        }
        /// `full` (of `fullDims`) summed over the axes where `dims` is 1, into a new buffer of
        /// `dims` whose elements lie in plain order (`broadcastMd`); a `parameter`'s gradient
        /// keeps its buffer for the caller to read after the sweep.
        func reduced(_ full: dnnl_memory_t, _ fullDims: [Int], to dims: [Int], parameter: Bool = false) throws(Unsupported) -> dnnl_memory_t {
            var source = md(of: full), dest = DNNLForward.broadcastMd(dims, like: source, dims: fullDims)
            var desc = dnnl_reduction_desc_t()
            try forward.check(dnnl_reduction_desc_init(&desc, dnnl_reduction_sum, &source, &dest, 0, 0), "gradient reduction")
            var pd: dnnl_primitive_desc_t?
            try forward.check(dnnl_primitive_desc_create(&pd, &desc, nil, forward.engine, nil), "gradient reduction")
            defer { dnnl_primitive_desc_destroy(pd) }
            let result = parameter ? try forward.ownedMemory(dest) : try scratch(dest)
            try add(pd, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: full), dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: result)], "gradient reduction")
            return result
        }
    }
}
