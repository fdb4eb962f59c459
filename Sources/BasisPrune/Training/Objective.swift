import Foundation

/// What the searches minimise when they rank what to remove: importance is divided by the cost
/// a basis or channel group adds under this objective.
public enum Objective: String, Sendable, Codable, CaseIterable {
    /// Weight and bias elements of the Conv/Gemm/MatMul layers.
    case params
    /// Multiply-accumulates per image: what a layer's time grows with on a CPU.
    case macs
    /// A latency model: MACs plus a fixed cost per Conv, in MACs (`convOverheadMACs`). Ranks
    /// like `macs`; a split layer, which runs two Convs, is re-merged unless the split saves
    /// more than that fixed cost.
    case latency

    /// What running one more Conv costs in onnxruntime beyond its MACs, in MACs per image at
    /// batch 1: measured by `bench/latency_model.py` (2.1 us per Conv at 32.6 GMAC/s on 1 thread:
    /// 67,000; at batch 32 it is 4,700 per image). Fixed cost per Conv divided by the MAC
    /// rate of the fitted line; README "Latency model").
    public static let convOverheadMACs = 65_000

    /// The fixed cost a split layer's second Conv adds under this objective.
    public var splitOverhead: Int { self == .latency ? Self.convOverheadMACs : 0 }

    /// `--objective auto`: `macs` for a model whose layers do at least this many
    /// multiply-accumulates per image per parameter, else `params`. A parameter costs a CPU
    /// about as long to fetch (4 bytes at about 10 GB/s: 0.4 ns) as a dozen or so MACs take to
    /// compute (about 30 GMAC/s on a core: 0.03 ns each), so above some 13 MACs per parameter a
    /// layer's time follows its MACs, not its weights. EfficientNet-Lite0 does 115 at 224x224
    /// (parameter pruning there removes the late layers, where the time is not) and 2.3 at
    /// 32x32, where `params` wrote the smallest and also the fastest certified output.
    public static let autoMACsPerParameter = 16

    /// What `--objective auto` chooses for a model of `macs` per image and `parameters` (its
    /// Conv/Gemm/MatMul layers'), with the reason for the report.
    public static func auto(macsPerImage macs: Int, parameters: Int) -> (objective: Objective, reason: String) {
        let ratio = Double(macs) / Double(max(parameters, 1))
        let shown = ratio >= 10 ? String(Int(ratio.rounded())) : String(format: "%.1f", ratio)
        return ratio >= Double(autoMACsPerParameter)
            ? (.macs, "auto: \(shown) MACs per parameter, at least \(autoMACsPerParameter)")
            : (.params, "auto: \(shown) MACs per parameter, under \(autoMACsPerParameter)")
    }
}

/// Hardware-aligned widths: runtimes' blocked kernels (onnxruntime's NCHWc, oneDNN, TensorRT,
/// XNNPACK) want channel counts that are multiples of a block size; other counts fall back to
/// slower paths. A width is legal when it is the layer's full width or a positive multiple of
/// `multiple`.
public struct ChannelAlignment: Sendable, Equatable {
    public var multiple: Int

    public init(multiple: Int) { self.multiple = max(1, multiple) }

    public func isLegal(_ kept: Int, full: Int) -> Bool {
        kept == full || (kept >= multiple && kept % multiple == 0)
    }

    /// The largest legal width below `kept` (nil when none: `kept` is already the smallest).
    public func nextBelow(_ kept: Int, full: Int) -> Int? {
        let down = (kept - 1) / multiple * multiple
        return down >= max(multiple, 1) ? down : nil
    }

    /// The legal width that removes about `ratio` of a width's `removable` units (at least
    /// one): the kept width a fixed per-layer ratio prunes down to. `full` when no legal width
    /// lies between `full - removable` and `full`.
    public func keptWidth(full: Int, removable: Int, ratio: Double) -> Int {
        let removable = min(removable, full - 1)
        guard removable > 0 else { return full }
        let kept = full - min(removable, max(1, Int((Double(removable) * ratio).rounded())))
        guard multiple > 1 else { return kept }
        let lowest = (max(multiple, full - removable) + multiple - 1) / multiple * multiple
        let highest = (full - 1) / multiple * multiple
        guard lowest <= highest else { return full }
        return min(max(Int((Double(kept) / Double(multiple)).rounded()) * multiple, lowest), highest)
    }

    /// For an illegal `kept` reached from the legal `before`: the legal widths just below and
    /// just above it (the one above is at most `before`).
    public func neighbours(_ kept: Int, before: Int, full: Int) -> (down: Int?, up: Int) {
        let down = kept / multiple * multiple
        let up = min(down + multiple, before)
        return (down >= multiple ? down : nil, up)
    }
}

extension Graph {
    /// Output positions per image of every Conv, Gemm and MatMul, by node index: the output's
    /// elements per image divided by its channels (`H * W` for a 2-D conv, 1 for a Gemm).
    /// Layers whose output shape static inference cannot tell count 1.
    public func outputPositions(opset: Int64) -> [Int: Int] {
        let facts = (try? ShapeInference(graph: self, opset: opset).facts) ?? [:]
        var positions: [Int: Int] = [:]
        for (index, node) in nodes.enumerated() where ["Conv", "Gemm", "MatMul"].contains(node.opType) {
            guard let output = node.outputs.first, let shape = facts[output]?.shape, shape.count >= 2 else { continue }
            switch node.opType {
            case "Conv": positions[index] = max(1, shape.dropFirst(2).reduce(1, *))
            case "MatMul": positions[index] = max(1, shape.dropFirst().dropLast().reduce(1, *))
            default: positions[index] = 1
            }
        }
        return positions
    }
}
