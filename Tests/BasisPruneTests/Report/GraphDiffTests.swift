import BasisPrune
import Foundation
import TestSupport
import Testing

/// `GraphDiff` on the shared Fashion-MNIST model against exports of its own split.
@Suite struct GraphDiffTests {
    /// Loaded and split once; a failure fails each test that reads it instead of crashing the process.
    static let loaded = Result { () throws -> (Model, (model: Model, layers: [SplitLayer])) in
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        return (model, try Pipeline.split(model))
    }
    static var model: Model { get throws { try loaded.get().0 } }
    static var split: (model: Model, layers: [SplitLayer]) { get throws { try loaded.get().1 } }

    /// The first half of each layer's bases kept (at least one), factors 1.
    static func halfChoices() throws -> [String: BasisExport.Choice] {
        Dictionary(uniqueKeysWithValues: try split.layers.map { layer in
            (layer.factors, BasisExport.Choice(factors: Array(repeating: 1, count: layer.rank),
                                               kept: (0..<layer.rank).map { $0 < max(1, layer.rank / 2) }))
        })
    }

    static func diff(_ b: Model) throws -> GraphDiff {
        GraphDiff(try GraphSummary(model: model), path: "A", fileBytes: 1, try GraphSummary(model: b), path: "B", fileBytes: 1)
    }

    @Test func everyLayerSplitWithoutRemerge() throws {
        let exported = try Pipeline.export(Self.split.model, layers: Self.split.layers, choices: [:], remerge: false)
        let diff = try Self.diff(exported)
        let splits = diff.changes.filter { $0.kind == .split }
        let layers = try Self.split.layers
        #expect(splits.map(\.name) == layers.map(\.name))
        for (change, layer) in zip(splits, layers) {
            #expect(change.rank == min(layer.inputLength, layer.outputChannels))
            #expect(change.bases == layer.rank)
            #expect(change.weightsAfter.count == 2)
        }
        #expect(diff.changes.count == splits.count)
        #expect(diff.unchanged == 50 - splits.count)
        #expect(diff.after.layerCount == 50 + splits.count)
    }

    @Test func halfTheBasesKept() throws {
        let exported = try Pipeline.export(Self.split.model, layers: Self.split.layers, choices: Self.halfChoices(), fuse: false)
        let diff = try Self.diff(exported)
        let byName = Dictionary(uniqueKeysWithValues: diff.changes.map { ($0.name, $0) })
        var splitCount = 0
        for layer in try Self.split.layers {
            let kept = max(1, layer.rank / 2)
            if layer.remerges(kept: kept) {
                // Re-merged: same name, same shape and parameters, so nothing to list.
                #expect(byName[layer.name] == nil)
            } else {
                splitCount += 1
                let change = try #require(byName[layer.name])
                #expect(change.kind == .split)
                #expect(change.bases == kept)
                #expect(change.parametersAfter == layer.parameters(kept: kept))
            }
        }
        #expect(splitCount > 10)
        #expect(diff.changes.count == splitCount)
        #expect(diff.after.layerParameters < diff.before.layerParameters)
        // The other direction reads as merged layers.
        let back = GraphDiff(try GraphSummary(model: exported), path: "B", fileBytes: 1, try GraphSummary(model: Self.model), path: "A", fileBytes: 1)
        #expect(back.changes.map(\.kind) == Array(repeating: .merged, count: splitCount))
        #expect(back.changes.map(\.nameAfter) == diff.changes.map(\.name))
    }

    /// Renamed nodes match by position among layers of the same op.
    @Test func renamedLayersMatchByPosition() throws {
        var renamed = try Self.model
        renamed.graph.nodes = renamed.graph.nodes.enumerated().map { i, node in
            var node = node
            node.name = "renamed_\(i)"
            return node
        }
        let diff = try Self.diff(renamed)
        #expect(diff.changes.isEmpty)
        #expect(diff.unchanged == 50)
        let text = diff.table()
        #expect(text.contains("50 unchanged"))
    }

    /// Any two models: layers without a partner of the same op are removed or added.
    @Test func unrelatedModels() throws {
        let linear = try ONNXImporter.load(path: Fixtures.onnxTestData + "/pytorch-converted/test_Linear/model.onnx")
        let diff = try Self.diff(linear)
        #expect(diff.changes.filter { $0.kind == .removed }.count == 49)
        let gemm = try #require(diff.changes.first { $0.kind == .changed })
        #expect(gemm.name == "/_fc/Gemm")
        #expect(gemm.nameAfter != nil)
        #expect(gemm.weightsAfter == [[8, 10]])
        let back = GraphDiff(try GraphSummary(model: linear), path: "B", fileBytes: 1, try GraphSummary(model: Self.model), path: "A", fileBytes: 1)
        #expect(back.changes.filter { $0.kind == .added }.count == 49)
    }
}
