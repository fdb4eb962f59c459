@testable import BasisPrune
import Foundation
import TestSupport
import Testing

/// `CompactSplit`: the split model with removed bases taken out computes what the masked full
/// split computes (bit for bit where `keepsBits` says so), and a search that retrains its
/// rounds on it finds the same candidates.
@Suite struct CompactSplitTests {
    /// The fmnist split with some bases of every layer removed (a pseudo-random share, in
    /// blocks of 8 as the search removes them, at least one kept) and factors away from 1.
    static func prunedSplit(seed: UInt64) throws -> (model: Model, layers: [SplitLayer], state: ScalingState) {
        let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: Fixtures.fmnistModel)).model)
        var state = ScalingState(layers: layers)
        var r = SplitMix64(seed: seed)
        for layer in layers {
            let kept = max(1, min(layer.rank - 1, (layer.rank * (2 + r.int(below: 6)) / 8 + 4) / 8 * 8))
            var order = Array(0..<layer.rank)
            order.shuffle(using: &r)
            for i in order.dropFirst(kept) { state.kept[layer.factors]![i] = false }
            state.factors[layer.factors] = (0..<layer.rank).map { _ in 1 + 0.4 * r.nextFloat() }
        }
        return (model, layers, state)
    }

    static func target(batch: Int, seed: UInt64) -> TrainingTarget {
        var r = SplitMix64(seed: seed)
        return TrainingTarget(labels: (0..<batch).map { Int32($0 * 7 % 10) },
                              teacher: Value(shape: [batch, 10], floats: (0..<(batch * 10)).map { _ in r.nextFloat() * 6 - 3 }),
                              temperature: 4, draws: (0..<batch).map { _ in Double(r.nextFloat() + 1) / 2 })
    }

    /// One training step (labels plus distillation, both sweeps) of the masked full split and of
    /// the compacted one: loss, then per layer the kept bases' gradients and importance
    /// gradients of each, and the layers whose values differ in any bit.
    static func steps(_ model: Model, _ layers: [SplitLayer], _ state: ScalingState, _ compact: CompactSplit, batch: Int = 32) throws
        -> (full: LossAndGradients, compacted: LossAndGradients, differing: [String]) {
        var r = SplitMix64(seed: 5)
        let input = Value(shape: [batch, 3, 32, 32], floats: r.floats(batch * 3 * 32 * 32))
        let target = Self.target(batch: batch, seed: 9)
        let full = try Executor(model: model).lossAndGradients(input: input, target: target, parameters: state.parameters())
        let small = try Executor(model: compact.model)
        let compacted = try small.lossAndGradients(input: input, target: target, parameters: compact.state(state).parameters())
        #expect(small.oneDNNTrainingRefusal == nil)
        var differing: [String] = []
        for layer in layers {
            let kept = compact.keptIndices[layer.factors]!
            for (a, b) in [(full.gradients, compacted.gradients), (full.importanceGradients, compacted.importanceGradients)] {
                let g = try #require(a[layer.factors]).floats, h = try #require(b[layer.factors]).floats
                #expect(h.count == kept.count)
                if kept.enumerated().contains(where: { g[$0.1].bitPattern != h[$0.0].bitPattern }) { differing.append(layer.name) }
            }
        }
        return (full, compacted, differing)
    }

    /// Every layer compacted: the compacted weights have the kept widths, the loss is the same
    /// (the forward pass adds the same terms), and the kept factors' gradients agree to
    /// rounding (oneDNN's backward convs may group their sums by the channel count).
    @Test func compactedSplitComputesTheMaskedOne() throws {
        let (model, layers, state) = try Self.prunedSplit(seed: 3)
        let compact = CompactSplit(split: model, layers: layers, state: state)
        let initializers = compact.model.graph.initializersByName
        for (full, small) in zip(layers, compact.layers) {
            let kept = state.kept[full.factors]!.filter { $0 }.count
            #expect(small.rank == kept && compact.keptIndices[full.factors]!.count == kept)
            #expect(initializers[small.basisWeight]!.dims[small.kind == .matmul ? 1 : 0] == kept)
            #expect(initializers[small.scalingWeight]!.dims[small.kind == .matmul ? 0 : 1] == kept)
            #expect(initializers[small.factors]!.elementCount == kept)
        }
        #expect(zip(layers, compact.layers).allSatisfy { $1.rank < $0.rank })
        let (full, compacted, _) = try Self.steps(model, layers, state, compact)
        #expect(abs(full.loss - compacted.loss) <= 1e-6 * abs(full.loss), "loss \(full.loss) vs \(compacted.loss)")
        #expect(full.correct == compacted.correct)
        for layer in layers {
            let kept = compact.keptIndices[layer.factors]!
            for (a, b) in [(full.gradients, compacted.gradients), (full.importanceGradients, compacted.importanceGradients)] {
                let g = a[layer.factors]!.floats, h = b[layer.factors]!.floats
                let scale = kept.map { abs(g[$0]) }.max()!
                let worst = kept.enumerated().map { abs(g[$0.1] - h[$0.0]) }.max()!
                #expect(worst <= 1e-3 * scale + 1e-7, "\(layer.name): kept factors' gradients differ by \(worst) (largest \(scale))")
            }
        }
    }

    /// Only the layers `keepsBits` picks compacted (on this model the 1x1 convs on 1x1 planes
    /// and the Gemm): loss and every kept factor's gradient and importance gradient are the
    /// same bits as the masked full split's.
    @Test func exactLayersKeepEveryBit() throws {
        let (model, layers, state) = try Self.prunedSplit(seed: 4)
        let exact = layers.filter(CompactSplit.keepsBits)
        #expect(exact.contains { $0.kind == .gemm })
        #expect(exact.count >= 5 && exact.count < layers.count, "\(exact.count) of \(layers.count) layers")
        #expect(!layers.contains { $0.name.hasSuffix("_conv_stem/Conv") && CompactSplit.keepsBits($0) })
        let compact = CompactSplit(split: model, layers: layers, state: state, compacting: CompactSplit.keepsBits)
        #expect(zip(layers, compact.layers).filter { $0.rank != $1.rank }.count == exact.count)
        let (full, compacted, differing) = try Self.steps(model, layers, state, compact)
        #expect(full.loss.bitPattern == compacted.loss.bitPattern)
        #expect(differing.isEmpty, "differ: \(differing)")
    }

    /// Factors go to the compacted state and back unchanged; importance comes back at the
    /// full layers' indices with removed bases at 0.
    @Test func stateAndImportanceMapBack() throws {
        let (model, layers, state) = try Self.prunedSplit(seed: 6)
        let compact = CompactSplit(split: model, layers: layers, state: state)
        var small = compact.state(state)
        #expect(small.kept.values.allSatisfy { $0.allSatisfy { $0 } })
        var back = ScalingState(layers: layers)
        back.kept = state.kept
        compact.merge(small, into: &back)
        for layer in layers {
            let mask = state.kept[layer.factors]!
            #expect(zip(back.factors[layer.factors]!, state.factors[layer.factors]!).enumerated().allSatisfy { !mask[$0.0] || $0.1.0 == $0.1.1 })
        }
        for name in small.factors.keys { small.factors[name] = small.factors[name]!.indices.map { Float($0 + 1) } }
        let importance = Dictionary(uniqueKeysWithValues: small.factors.map { ($0.key, $0.value.map(Double.init)) })
        let expanded = compact.expand(importance)
        for layer in layers {
            let mask = state.kept[layer.factors]!, values = expanded[layer.factors]!
            #expect(values.count == layer.rank)
            #expect(mask.indices.allSatisfy { mask[$0] == (values[$0] > 0) })
            #expect(values.filter { $0 > 0 } == (1...mask.filter { $0 }.count).map(Double.init))
        }
    }

    /// A search whose rounds run on the compacted split (`BasisSearch.split`) accepts and
    /// rejects the same rounds with the same validation accuracies and ends with the same
    /// factors as one on the masked full split.
    @Test func searchOnTheCompactedSplitIsTheSame() throws {
        let model = try Simplify.run(try ONNXImporter.load(path: Fixtures.bundledModel)).model
        let (split, layers) = try Pipeline.split(model)
        let train = try PruneJobTests.data("range=0:600"), validation = try PruneJobTests.data("split=test,range=0:400")
        let options = PruneJobTests.smallBasisSearch(retrainImages: 256, maxAccuracyDrop: 4, roundFraction: 0.3)
        var results: [BasisSearchResult] = []
        for compacted in [false, true] {
            let search = BasisSearch(executor: try Executor(model: split), layers: layers, train: train, trainIndices: Array(0..<600),
                                       validation: validation, validationIndices: Array(0..<400), options: options,
                                       split: compacted ? split : nil)
            var rounds = 0
            results.append(try search.run(accepted: { _, _ in rounds += 1; return rounds < 4 }))
        }
        #expect(results[0].history.count >= 3 && results[0].candidates.count >= 2)
        // Some of the removed bases were in layers the rounds ran compacted.
        #expect(layers.filter(CompactSplit.keepsBits).contains { results[0].state.kept[$0.factors]!.contains(false) })
        #expect(results[1].history == results[0].history)
        #expect(results[1].state.kept == results[0].state.kept)
        #expect(results[1].state.factors == results[0].state.factors)
    }
}
