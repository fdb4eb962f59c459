/// A split model with the removed bases taken out: each split layer's basis op computes only
/// its kept bases and its scaling op reads only those, so a round's retrain and validation
/// cost what the candidate keeps, not the full split. A removed basis's factor is zero, so
/// the terms it drops from the sums are exact zeros and the model computes the masked full
/// split's function. Bit for bit only where the sums keep their order without those terms:
/// see `keepsBits`.
public struct CompactSplit: Sendable {
    /// Which split layers a search's rounds run compacted.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Those where it changes no bit of a training step (`keepsBits`): the output is the
        /// same file as with `off`.
        case exact
        /// Every layer: the same function for less, with sums regrouped in their last bits, so
        /// the search takes another path from the first round that differs.
        case all
        /// None: every round runs the masked full split.
        case off

        /// Whether this mode takes `layer`'s removed bases out.
        public func compacts(_ layer: SplitLayer) -> Bool {
            switch self {
            case .exact: CompactSplit.keepsBits(layer)
            case .all: true
            case .off: false
            }
        }
    }

    /// Whether taking `layer`'s removed bases out leaves every bit of a training step as it
    /// was: its products run as plain matrix products (a Gemm, or a 1x1 conv with unit strides
    /// and no padding on a 1x1 plane, which the oneDNN plan runs on `cdnnl_dense`), whose sums
    /// run in one sequential chain per output, so dropping a zero term changes nothing.
    /// oneDNN's 1x1 convs on larger planes block their backward sums by the channel counts
    /// (measured with `bench compact`: the same loss, but a third of the kept factors'
    /// gradients differed in the last bits), and a search is chaotic in those bits.
    public static func keepsBits(_ layer: SplitLayer) -> Bool {
        switch layer.kind {
        case .gemm: return true
        case .matmul: return false
        case .conv:
            let node = layer.original
            let kernel1x1 = node.ints("kernel_shape").map { $0.allSatisfy { $0 == 1 } } ?? false
            return layer.outputPositions == 1 && kernel1x1 && node.hasUnitSteps
        }
    }

    /// The compacted model.
    public let model: Model
    /// The layers of `model`: each full layer with `rank` its kept bases.
    public let layers: [SplitLayer]
    /// By factors name: the full layer's indices of the bases `model` has, ascending (all of
    /// them for a layer left as it is).
    public let keptIndices: [String: [Int]]
    /// By factors name: the full layer's rank.
    let fullRanks: [String: Int]

    /// `split` (the model `layers` describe) with the bases `state` removed taken out of the
    /// layers `compacting` accepts.
    public init(split: Model, layers: [SplitLayer], state: ScalingState, compacting: (SplitLayer) -> Bool = { _ in true }) {
        var model = split
        var byName: [String: Int] = [:]
        for (i, tensor) in model.graph.initializers.enumerated() { if let name = tensor.name { byName[name] = i } }
        var compactLayers: [SplitLayer] = []
        var keptIndices: [String: [Int]] = [:]
        var dropped = Set<String>()
        for layer in layers {
            let mask = state.kept[layer.factors] ?? Array(repeating: true, count: layer.rank)
            let kept = mask.indices.filter { mask[$0] }
            guard kept.count < layer.rank, !kept.isEmpty, compacting(layer),
                  let b = byName[layer.basisWeight], let f = byName[layer.factors], let s = byName[layer.scalingWeight] else {
                // Left as it is: its removed bases stay, masked.
                keptIndices[layer.factors] = Array(0..<layer.rank)
                compactLayers.append(layer)
                continue
            }
            keptIndices[layer.factors] = kept
            let graph = model.graph
            // The bases are the basis weight's rows and the scaling weight's columns (a
            // MatMul's weights are transposed).
            let basisAxis = layer.kind == .matmul ? 1 : 0
            model.graph.initializers[b] = Self.slice(graph.initializers[b], axis: basisAxis, keeping: kept)
            model.graph.initializers[f] = Self.slice(graph.initializers[f], axis: layer.kind == .conv ? 1 : 0, keeping: kept)
            model.graph.initializers[s] = Self.slice(graph.initializers[s], axis: 1 - basisAxis, keeping: kept)
            if let name = layer.basisBias, let bias = byName[name] {
                model.graph.initializers[bias] = Self.slice(graph.initializers[bias], axis: 0, keeping: kept)
            }
            var compact = layer
            compact.rank = kept.count
            compact.singularValues = kept.map { layer.singularValues[$0] }
            compactLayers.append(compact)
            // The basis op's output and the scaled one change width: their declared shapes go.
            for node in graph.nodes where node.name == layer.basisNode || node.name == layer.scaleNode { dropped.formUnion(node.outputs) }
        }
        model.graph.valueInfo.removeAll { dropped.contains($0.name) }
        self.model = model
        self.layers = compactLayers
        self.keptIndices = keptIndices
        fullRanks = Dictionary(uniqueKeysWithValues: layers.map { ($0.factors, $0.rank) })
    }

    /// `tensor` (float, row-major) with only the indices `kept` along `axis`.
    static func slice(_ tensor: Tensor, axis: Int, keeping kept: [Int]) -> Tensor {
        let dims = tensor.dims
        let outer = dims[..<axis].reduce(1, *), inner = dims[(axis + 1)...].reduce(1, *)
        let values = tensor.floats
        var result: [Float] = []
        result.reserveCapacity(outer * kept.count * inner)
        for o in 0..<outer {
            for k in kept {
                let start = (o * dims[axis] + k) * inner
                result += values[start ..< start + inner]
            }
        }
        var sliced = dims
        sliced[axis] = kept.count
        return Tensor(name: tensor.name, dims: sliced, floats: result)
    }

    /// `full`'s factors of the bases each layer of `model` has, as its state (the layers left
    /// as they are keep their masks).
    public func state(_ full: ScalingState) -> ScalingState {
        var compact = ScalingState(layers: layers)
        for layer in layers {
            let indices = keptIndices[layer.factors]!
            let factors = full.factors[layer.factors]!, kept = full.kept[layer.factors]!
            compact.factors[layer.factors] = indices.map { factors[$0] }
            compact.kept[layer.factors] = indices.map { kept[$0] }
        }
        return compact
    }

    /// `full` with the kept bases' factors taken from `compact`.
    public func merge(_ compact: ScalingState, into full: inout ScalingState) {
        for layer in layers {
            let factors = compact.factors[layer.factors]!
            for (j, i) in keptIndices[layer.factors]!.enumerated() { full.factors[layer.factors]![i] = factors[j] }
        }
    }

    /// Per-basis values of the compacted layers (importance) at the full layers' indices, 0 for
    /// removed bases.
    public func expand(_ values: [String: [Double]]) -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        for (name, kept) in keptIndices {
            var full = [Double](repeating: 0, count: fullRanks[name] ?? kept.count)
            if let compact = values[name] { for (j, i) in kept.enumerated() { full[i] = compact[j] } }
            result[name] = full
        }
        return result
    }
}
