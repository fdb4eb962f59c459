/// Multiplies a 1x1 Conv into the Conv before it when nothing lies between them (no activation,
/// no other reader) and the product is smaller than the two: `W = W_B W_A`, `b = W_B b_A + b_B`.
///
/// After basis pruning this is common where a network has no nonlinearity between two layers:
/// a MobileNetV2/EfficientNet block with no residual ends in a linear projection that feeds the
/// next 1x1 conv, so the projection's scaling conv (`C x r`) and the next layer's basis conv
/// (`r' x C`) become one `r' x r` conv, which then folds into the projection's basis conv.
/// The function computed is the same (up to float rounding); parameters and MACs only go down.
///
/// A pair is fused when:
/// - B is a Conv with a 1x1 kernel, stride 1, no padding, dilation 1 and one group, and its
///   weight (and bias, if any) are float initializers that are not graph inputs;
/// - A is a Conv with one group and constant float weight and bias, whose only reader is B
///   (and whose output is not a graph output);
/// - the fused weight and bias have fewer elements than A's and B's together.
///
/// The fused node keeps A's name and attributes and writes B's output; it is repeated until no
/// pair qualifies.
public enum FuseLinearConvs {
    public static let name = "FuseLinearConvs"

    /// One fused pair.
    public struct Fusion: Sendable, Equatable {
        /// The node that stays (A), now computing B after A.
        public var kept: String
        /// The 1x1 node multiplied into it (B).
        public var removed: String
        /// Weight and bias elements saved.
        public var parametersSaved: Int
    }

    public static func run(_ graph: Graph) throws(PassError) -> (graph: Graph, fusions: [Fusion]) {
        var graph = graph
        var fusions: [Fusion] = []
        // Each fusion leaves the graph without dead code.
        while let fusion = try fuseOne(&graph) { fusions.append(fusion) }
        return (graph, fusions)
    }

    /// A float initializer that no graph input can override.
    private static func constant(_ name: String?, in graph: Graph, inputs: Set<String>) -> Tensor? {
        guard let name, !inputs.contains(name) else { return nil }
        return graph.floatInitializer(name)
    }

    private static func isPointwise(_ node: Node, weight: Tensor) -> Bool {
        guard weight.dims.count >= 2, weight.dims.dropFirst(2).allSatisfy({ $0 == 1 }) else { return false }
        let autoPad = node.string("auto_pad", default: "NOTSET")!
        return node.int("group", default: 1) == 1 && node.hasUnitSteps
            && ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad)
    }

    /// Fuses the first qualifying pair in node order, if any.
    private static func fuseOne(_ graph: inout Graph) throws(PassError) -> Fusion? {
        let counts = graph.readCounts
        let inputs = Set(graph.inputs.map(\.name))
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for output in node.outputs { producer[output] = i } }
        for (j, b) in graph.nodes.enumerated() where b.opType == "Conv" && (b.domain ?? "").isEmpty {
            guard let x = b.input(0), counts[x] == 1, let i = producer[x], i != j else { continue }
            let a = graph.nodes[i]
            guard a.opType == "Conv", (a.domain ?? "").isEmpty, a.outputs.count == 1, a.int("group", default: 1) == 1,
                  let wb = constant(b.input(1), in: graph, inputs: inputs), isPointwise(b, weight: wb),
                  let wa = constant(a.input(1), in: graph, inputs: inputs), wa.dims.count == wb.dims.count else { continue }
            let biasA = a.input(2), biasB = b.input(2)
            let ba = biasA.flatMap { constant($0, in: graph, inputs: inputs) }, bb = biasB.flatMap { constant($0, in: graph, inputs: inputs) }
            if biasA != nil && ba == nil || biasB != nil && bb == nil { continue }
            let ca = wa.dims[0], cb = wb.dims[0], m = wa.elementCount / max(ca, 1)
            guard ca > 0, wb.dims[1] == ca, ba.map({ $0.elementCount == ca }) ?? true, bb.map({ $0.elementCount == cb }) ?? true else { continue }
            let hasBias = ba != nil || bb != nil
            let before = wa.elementCount + (ba?.elementCount ?? 0) + wb.elementCount + (bb?.elementCount ?? 0)
            let after = cb * m + (hasBias ? cb : 0)
            guard after < before else { continue }

            // W[o, :] = sum_c B[o, c] A[c, :], accumulated in Double.
            let fa = wa.floats, fb = wb.floats
            var fused = [Double](repeating: 0, count: cb * m)
            fused.withUnsafeMutableBufferPointer { w in
                fa.withUnsafeBufferPointer { av in
                    for o in 0..<cb {
                        for c in 0..<ca {
                            let f = Double(fb[o * ca + c])
                            if f == 0 { continue }
                            let row = c * m, out = o * m
                            for k in 0..<m { w[out + k] += f * Double(av[row + k]) }
                        }
                    }
                }
            }
            var taken = graph.usedNames
            let base = a.name.flatMap { $0.isEmpty ? nil : $0 } ?? a.outputs[0]
            let weightName = graph.freshName(base + "/fused.weight", taken: &taken)
            graph.initializers.append(Tensor(name: weightName, dims: [cb] + Array(wa.dims.dropFirst()), floats: fused.map { Float($0) }))
            var node = a
            node.inputs = [a.inputs[0], weightName]
            if hasBias {
                let av = ba?.floats, bv = bb?.floats
                let bias = (0..<cb).map { o -> Float in
                    var sum = Double(bv?[o] ?? 0)
                    if let av { for c in 0..<ca { sum += Double(fb[o * ca + c]) * Double(av[c]) } }
                    return Float(sum)
                }
                let biasName = graph.freshName(base + "/fused.bias", taken: &taken)
                graph.initializers.append(Tensor(name: biasName, dims: [cb], floats: bias))
                node.inputs.append(biasName)
            }
            node.outputs = b.outputs
            graph.nodes[i] = node
            graph.nodes.remove(at: j)
            graph = graph.removingDeadCode()
            return Fusion(kept: a.displayName, removed: b.displayName, parametersSaved: before - after)
        }
        return nil
    }
}
