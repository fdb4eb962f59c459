@testable import BasisPrune
import Foundation
import TestSupport
import Testing

/// `BasisCentering`: centring the basis responses leaves the split's function as it is, a
/// removed basis leaves its mean behind (in the masked split, the compacted one and the
/// exported file alike), and the export folds the basis bias away.
@Suite struct BasisCenteringTests {
    /// Per basis, a mean response in [-1, 1] (any values keep the function).
    static func means(_ layers: [SplitLayer], seed: UInt64) -> [String: [Double]] {
        var r = SplitMix64(seed: seed)
        return Dictionary(uniqueKeysWithValues: layers.map { ($0.factors, (0..<$0.rank).map { _ in Double(r.nextFloat() * 2 - 1) }) })
    }

    static func logits(_ model: Model, _ parameters: [String: Value] = [:], input: Value) throws -> [Float] {
        let executor = try Executor(model: model)
        let name = executor.outputNames[0]
        if parameters.isEmpty { return try #require(try executor.run([executor.inputNames[0]: input])[name]).floats }
        return try #require(try executor.run([executor.inputNames[0]: input], parameters: parameters)[name]).floats
    }

    static func largestDifference(_ a: [Float], _ b: [Float]) -> (difference: Float, scale: Float) {
        (zip(a, b).map { abs($0 - $1) }.max() ?? 0, a.map(abs).max() ?? 0)
    }

    static let input: Value = {
        var r = SplitMix64(seed: 11)
        return Value(shape: [8, 3, 32, 32], floats: r.floats(8 * 3 * 32 * 32))
    }()

    /// With every basis kept, the centred split computes the split (factors away from 1 taken
    /// into the scaling bias), and every layer but the MatMuls got a basis bias.
    @Test func centredSplitComputesTheSplit() throws {
        let (model, layers, pruned) = try CompactSplitTests.prunedSplit(seed: 3)
        var state = pruned
        for layer in layers { state.kept[layer.factors] = Array(repeating: true, count: layer.rank) }
        let (centred, centredLayers) = try BasisCentering.run(model, layers: layers, means: Self.means(layers, seed: 1), factors: state.factors)
        #expect(centredLayers.allSatisfy { ($0.basisBias != nil) == ($0.kind != .matmul) })
        let plain = try Self.logits(model, state.parameters(), input: Self.input)
        let shifted = try Self.logits(centred, state.parameters(), input: Self.input)
        let (difference, scale) = Self.largestDifference(plain, shifted)
        #expect(difference <= 1e-4 * scale, "logits differ by \(difference) (largest \(scale))")
    }

    /// With bases removed: the exported model (no basis biases left) and the compacted split
    /// compute what the masked centred split computes, and that is not what removing the same
    /// bases from the plain split computes. In the classifier Gemm alone, the exported bias is
    /// the input bias plus each removed basis's `W_i s_i m_i`.
    @Test func removedBasesLeaveTheirMean() throws {
        let (model, layers, state) = try CompactSplitTests.prunedSplit(seed: 4)
        let means = Self.means(layers, seed: 2)
        let (centred, centredLayers) = try BasisCentering.run(model, layers: layers, means: means, factors: state.factors)
        var centredState = state
        centredState.layers = centredLayers
        let masked = try Self.logits(centred, centredState.parameters(), input: Self.input)

        let exported = try Pipeline.export(centred, layers: centredLayers, choices: centredState.choices)
        let basisNodes = Set(centredLayers.map(\.basisNode))
        #expect(exported.graph.nodes.filter { basisNodes.contains($0.name ?? "") }.allSatisfy { $0.inputs.count == 2 })
        let path = Fixtures.temporaryDirectory("centring") + "/exported.onnx"
        try ONNXExporter.write(exported, to: path)
        let fromFile = try Self.logits(try ONNXImporter.load(path: path), input: Self.input)
        var (difference, scale) = Self.largestDifference(masked, fromFile)
        #expect(difference <= 1e-4 * scale, "exported: logits differ by \(difference) (largest \(scale))")

        let compact = CompactSplit(split: centred, layers: centredLayers, state: centredState)
        let compacted = try Self.logits(compact.model, compact.state(centredState).parameters(), input: Self.input)
        (difference, scale) = Self.largestDifference(masked, compacted)
        #expect(difference <= 1e-4 * scale, "compacted: logits differ by \(difference) (largest \(scale))")

        let zeroed = try Self.logits(model, state.parameters(), input: Self.input)
        (difference, scale) = Self.largestDifference(masked, zeroed)
        #expect(difference > 1e-2 * scale, "mean replacement changed nothing (\(difference))")

        // The Gemm head alone: its exported bias.
        let head = try #require(layers.first { $0.kind == .gemm })
        var headState = ScalingState(layers: centredLayers)
        headState.factors[head.factors] = state.factors[head.factors]
        headState.kept[head.factors] = state.kept[head.factors]
        let headExport = try Pipeline.export(centred, layers: centredLayers, choices: headState.choices, remerge: false)
        let scalingNode = try #require(headExport.graph.nodes.first { $0.name == head.scalingNode })
        let biasName = try #require(scalingNode.input(2)), originalName = try #require(head.original.input(2))
        let bias = try #require(headExport.graph.floatInitializer(biasName)).floats
        let original = try #require(model.graph.floatInitializer(originalName)).floats
        let w = try #require(model.graph.floatInitializer(head.scalingWeight)).floats
        let s = state.factors[head.factors]!, kept = state.kept[head.factors]!
        #expect(kept.contains(false))
        for c in original.indices {
            var expected = Double(original[c])
            for i in 0..<head.rank where !kept[i] { expected += Double(w[c * head.rank + i]) * Double(s[i]) * means[head.factors]![i] }
            #expect(abs(Double(bias[c]) - expected) <= 1e-4 * max(1, abs(expected)), "output \(c): bias \(bias[c]), expected \(expected)")
        }
    }
}
