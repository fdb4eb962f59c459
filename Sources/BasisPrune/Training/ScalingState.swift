/// The trainable state of a split model: each layer's scaling factors and which bases remain.
public struct ScalingState: Sendable {
    public var layers: [SplitLayer]
    /// Scaling factors by the layer's `factors` initializer name.
    public var factors: [String: [Float]]
    /// Which bases remain, by the same names.
    public var kept: [String: [Bool]]

    /// All factors 1, every basis kept.
    public init(layers: [SplitLayer]) {
        self.layers = layers
        factors = Dictionary(uniqueKeysWithValues: layers.map { ($0.factors, Array(repeating: Float(1), count: $0.rank)) })
        kept = Dictionary(uniqueKeysWithValues: layers.map { ($0.factors, Array(repeating: true, count: $0.rank)) })
    }

    /// The factors as engine parameters (removed bases at 0), shaped like their initializers.
    public func parameters() -> [String: Value] {
        var result: [String: Value] = [:]
        for layer in layers {
            let s = zip(factors[layer.factors]!, kept[layer.factors]!).map { $1 ? $0 : 0 }
            let shape = layer.kind == .conv ? [1, layer.rank, 1, 1] : [layer.rank]
            result[layer.factors] = Value(shape: shape, floats: s)
        }
        return result
    }

    /// Bases that remain, over all layers.
    public var keptCount: Int { kept.values.reduce(0) { $0 + $1.filter { $0 }.count } }
    public var rankTotal: Int { layers.reduce(0) { $0 + $1.rank } }

    /// Weight and bias elements of the split layers once exported (re-merged where smaller).
    public var layerParameters: Int {
        layers.reduce(0) { $0 + $1.parameters(kept: kept[$1.factors]!.filter { $0 }.count) }
    }

    /// The choices the export pass takes.
    public var choices: [String: BasisExport.Choice] {
        Dictionary(uniqueKeysWithValues: layers.map { ($0.factors, BasisExport.Choice(factors: factors[$0.factors]!, kept: kept[$0.factors]!)) })
    }
}
