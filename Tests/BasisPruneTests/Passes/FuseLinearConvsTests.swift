import BasisPrune
import Foundation
import TestSupport
import Testing

@Suite struct FuseLinearConvsTests {
    /// The input model has no pair worth fusing: its linear projections feed 1x1 convs that are
    /// wider than the projection's input, or feed a residual Add as well.
    @Test func inputModelHasNothingToFuse() throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let folded = try FoldBatchNorm.run(model.graph)
        let (graph, fusions) = try FuseLinearConvs.run(folded)
        #expect(fusions.isEmpty)
        #expect(graph.nodes.count == folded.nodes.count)
    }

    /// A pruned export with few bases kept: the last block's projection (no residual, no
    /// activation after it) feeds the head conv, so its scaling conv and the head's basis conv
    /// fuse, and then fuse into the projection's basis conv. The fused model computes what the
    /// unfused one does in onnxruntime, passes the onnx checker, and has exactly the reported
    /// parameters fewer.
    @Test func prunedProjectionFusesIntoTheHead() throws {
        let original = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let (split, layers) = try Pipeline.split(original)
        var choices: [String: BasisExport.Choice] = [:]
        for layer in layers {
            let keep = max(1, layer.rank / 10)
            choices[layer.factors] = BasisExport.Choice(factors: Array(repeating: 1, count: layer.rank),
                                                        kept: (0..<layer.rank).map { $0 < keep })
        }
        var unfused = split
        unfused.graph = try BasisExport.run(split.graph, layers: layers, choices: choices)
        let (graph, fusions) = try FuseLinearConvs.run(unfused.graph)
        var fused = unfused
        fused.graph = graph

        let kept = Set(fusions.map(\.kept)), removed = Set(fusions.map(\.removed))
        #expect(removed.contains("/_conv_head/Conv/basis"))
        #expect(kept.contains("/_blocks.15/_project_conv/Conv/basis"))
        #expect(!graph.nodes.contains { $0.name == "/_conv_head/Conv/basis" || $0.name == "/_blocks.15/_project_conv/Conv/scaling" })
        // No residual block's projection was fused: its output is read by the Add as well.
        #expect(!removed.contains { $0.hasPrefix("/_blocks.14/") || $0.hasPrefix("/_blocks.15/_expand") })

        let before = try GraphSummary(model: unfused), after = try GraphSummary(model: fused)
        let saved = fusions.reduce(0) { $0 + $1.parametersSaved }
        #expect(saved > 0)
        #expect(before.layerParameters - after.layerParameters == saved)
        #expect(after.layerMACs! < before.layerMACs!)
        #expect(try Pipeline.export(split, layers: layers, choices: choices).graph.nodes.count == graph.nodes.count)

        let directory = Fixtures.temporaryDirectory("fuse")
        let a = directory + "/unfused.onnx", b = directory + "/fused.onnx"
        try ONNXExporter.write(unfused, to: a)
        try ONNXExporter.write(fused, to: b)
        let checked = try runJudge("check_model.py", [b]) as! [String: String]
        #expect(checked[b] == "ok")
        let (input, _) = try fashionMNISTBatch(count: 64)
        let x = try ONNXRuntimeJudge.run(model: a, input: input), y = try ONNXRuntimeJudge.run(model: b, input: input)
        let difference = maxAbsDifference(x.floats, y.floats)
        print("fused vs unfused export in onnxruntime: max |difference| of the logits over 64 images = \(difference); \(saved) parameters fewer")
        #expect(difference < 1e-4)
    }
}
