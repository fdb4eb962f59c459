/// Centres each split layer's basis responses on their mean over training images, so that the
/// scaling factors scale only what varies and a removed basis leaves its mean behind.
///
/// A split layer computes `W diag(s) (Q x) + b`. With `m` the mean response of its bases (over
/// images and positions) the pass writes it as `W diag(s) (Q x - m) + (b + W diag(s) m)`: the
/// basis op gets the bias `-m`, the scaling op the bias `b + W diag(s) m`, and the function is
/// the same up to rounding. The factors are then trained on the centred responses, their Taylor
/// importance is that of removing a basis's variation only, and a basis whose factor is set to
/// zero contributes its mean `W_i s_i m_i` (with the factor it had when centred) through the
/// scaling bias instead of nothing: "mean replacement", which keeps the next layer's input
/// where it was on average. Measured on the
/// Fashion-MNIST model with bases removed by their energy and no retraining, a fifth of the
/// bases removed cost 1.40 points with the removed responses zeroed and 0.12 centred.
///
/// Layers whose scaling op cannot take a bias (MatMul), or scales it (a Gemm's `alpha` or
/// `beta` other than 1), or whose bias another node reads, are left as they are. `BasisExport`
/// folds the basis bias back into the scaling bias, so an exported layer has the usual form.
public enum BasisCentering {
    public static let name = "BasisCentering"

    /// `split` with each layer in `means` (by factors name, one mean per basis) centred;
    /// `factors` are the scaling factors the scaling bias takes the means through (ones when
    /// a layer has none there).
    public static func run(_ split: Model, layers: [SplitLayer], means: [String: [Double]],
                           factors: [String: [Float]] = [:]) throws(PassError) -> (model: Model, layers: [SplitLayer]) {
        var model = split
        var graph = split.graph
        var taken = graph.usedNames
        let readers = graph.readers
        var layers = layers
        for l in layers.indices {
            let layer = layers[l]
            guard layer.kind != .matmul, layer.basisBias == nil, let mean = means[layer.factors], mean.count == layer.rank else { continue }
            guard let scaling = graph.floatInitializer(layer.scalingWeight),
                  let basisIndex = graph.nodes.firstIndex(where: { $0.name == layer.basisNode }),
                  let scalingIndex = graph.nodes.firstIndex(where: { $0.name == layer.scalingNode }) else {
                throw PassError(pass: name, node: layer.name, reason: "the split graph lacks this layer's basis or scaling parts")
            }
            // A Gemm scaling op that scales its product or bias would scale the means too.
            let scalingOp = graph.nodes[scalingIndex]
            guard scalingOp.float("alpha") ?? 1 == 1, scalingOp.float("beta") ?? 1 == 1 else { continue }
            let s = factors[layer.factors] ?? Array(repeating: 1, count: layer.rank)
            let cout = layer.outputChannels, r = layer.rank, w = scaling.floats
            var bias = [Double](repeating: 0, count: cout)
            if let old = graph.nodes[scalingIndex].input(2) {
                // The scaling bias is rewritten under its own name, so no other node may read it.
                guard let tensor = graph.floatInitializer(old), tensor.elementCount == cout, readers[old]?.count == 1 else { continue }
                bias = tensor.floats.map(Double.init)
            }
            for c in 0..<cout {
                for i in 0..<r { bias[c] += Double(w[c * r + i]) * Double(s[i]) * mean[i] }
            }
            let biasName = graph.nodes[scalingIndex].input(2) ?? graph.freshName(layer.scalingNode + ".bias", taken: &taken)
            graph.initializers.removeAll { $0.name == biasName }
            graph.initializers.append(Tensor(name: biasName, dims: [cout], floats: bias.map { Float($0) }))
            if graph.nodes[scalingIndex].inputs.count < 3 { graph.nodes[scalingIndex].inputs.append(biasName) }
            let basisBias = graph.freshName(layer.basisNode + ".bias", taken: &taken)
            graph.initializers.append(Tensor(name: basisBias, dims: [r], floats: mean.map { Float(-$0) }))
            graph.nodes[basisIndex].inputs.append(basisBias)
            layers[l].basisBias = basisBias
        }
        model.graph = graph
        return (model, layers)
    }

    /// The scaling bias of an exported layer that keeps `kept` with factors `s`: the centred
    /// bias minus what the kept bases' means add (`W_i s_i m_i`), since the exported basis op
    /// has no bias. `scale(c, i)` is the scaling weight's entry for output `c` and basis `i`.
    static func exportedBias(centred bias: [Float], basisBias: [Float], kept: [Int], factors s: [Float],
                             scale: (Int, Int) -> Float) -> [Float] {
        bias.indices.map { c in
            var sum = Double(bias[c])
            for i in kept { sum += Double(scale(c, i)) * Double(s[i]) * Double(basisBias[i]) }
            return Float(sum)
        }
    }
}
