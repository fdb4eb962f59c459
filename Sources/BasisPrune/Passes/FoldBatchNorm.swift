/// Folds BatchNormalization (inference mode) into the Conv or Gemm before it, when nothing
/// else reads that layer's output and its weight (and bias) are constant:
/// `W' = W * gamma / sqrt(var + eps)` per output channel, `b' = (b - mean) * gamma / sqrt(var + eps) + beta`.
public enum FoldBatchNorm {
    public static let name = "FoldBatchNorm"

    public static func run(_ graph: Graph) throws(PassError) -> Graph {
        var graph = graph
        let counts = graph.readCounts
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for output in node.outputs { producer[output] = i } }
        var taken = graph.usedNames
        var removed = Set<Int>()
        var added: [Tensor] = []
        for (j, bn) in graph.nodes.enumerated() where bn.opType == "BatchNormalization" {
            guard let x = bn.input(0), counts[x] == 1, let i = producer[x], bn.outputs.dropFirst().allSatisfy(\.isEmpty),
                  bn.int("training_mode", default: 0) == 0 else { continue }
            let layer = graph.nodes[i]
            guard layer.opType == "Conv" || (layer.opType == "Gemm" && layer.int("transA", default: 0) == 0
                      && layer.float("alpha", default: 1) == 1 && layer.float("beta", default: 1) == 1),
                  let weightName = layer.input(1), let weight = graph.floatInitializer(weightName) else { continue }
            let stats = (1...4).map { bn.input($0).flatMap { graph.floatInitializer($0) } }
            guard stats.allSatisfy({ $0 != nil }) else { continue }
            let gamma = stats[0]!.floats, beta = stats[1]!.floats, mean = stats[2]!.floats, variance = stats[3]!.floats
            let epsilon = bn.float("epsilon", default: 1e-5)!
            let transB = layer.opType == "Gemm" && layer.int("transB", default: 0)! != 0
            let channels = layer.opType == "Conv" ? weight.dims[0] : (transB ? weight.dims[0] : weight.dims.last!)
            guard gamma.count == channels, beta.count == channels, mean.count == channels, variance.count == channels else {
                throw PassError(pass: name, node: bn.displayName, reason: "statistics do not match the \(channels) channels of '\(layer.displayName)'")
            }
            let scale = (0..<channels).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
            var w = weight.floats
            if layer.opType == "Conv" || transB {
                let per = w.count / channels
                for c in 0..<channels { for k in 0..<per { w[c * per + k] *= scale[c] } }
            } else {
                for r in 0..<(w.count / channels) { for c in 0..<channels { w[r * channels + c] *= scale[c] } }
            }
            var b = layer.input(2).flatMap { graph.floatInitializer($0) }?.floats ?? Array(repeating: 0, count: channels)
            guard b.count == channels else { continue }
            for c in 0..<channels { b[c] = (b[c] - mean[c]) * scale[c] + beta[c] }
            let base = layer.name.flatMap { $0.isEmpty ? nil : $0 } ?? layer.outputs[0]
            let wName = graph.freshName(base + "/folded.weight", taken: &taken)
            let bName = graph.freshName(base + "/folded.bias", taken: &taken)
            added.append(Tensor(name: wName, dims: weight.dims, floats: w))
            added.append(Tensor(name: bName, dims: [channels], floats: b))
            var folded = layer
            folded.inputs = [layer.inputs[0], wName, bName]
            folded.outputs = [bn.outputs[0]]
            graph.nodes[i] = folded
            removed.insert(j)
        }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        graph.initializers += added
        return graph.removingDeadCode()
    }
}
