@testable import BasisPrune
import TestSupport
import Testing

/// `--objective auto` on the bundled models' real totals (`GraphSummary` of the fixtures): MACs
/// where a layer's time follows its MACs, parameters where it follows its weights.
@Suite struct ObjectiveAutoTests {
    @Test func lite0At224RanksByMACs() throws {
        let summary = try GraphSummary(model: try ONNXImporter.load(path: Fixtures.models + "/fmnist-lite0-224.onnx"))
        let macs = try #require(summary.layerMACs)
        let chosen = Objective.auto(macsPerImage: macs, parameters: summary.layerParameters)
        #expect(chosen.objective == .macs)
        #expect(chosen.reason == "auto: 115 MACs per parameter, at least 16")
    }

    @Test func lite0At32RanksByParameters() throws {
        let summary = try GraphSummary(model: try ONNXImporter.load(path: Fixtures.fmnistModel))
        let chosen = Objective.auto(macsPerImage: try #require(summary.layerMACs), parameters: summary.layerParameters)
        #expect(chosen.objective == .params)
        #expect(chosen.reason == "auto: 2.3 MACs per parameter, under 16")
    }

    @Test func theThresholdItself() {
        #expect(Objective.auto(macsPerImage: 16_000, parameters: 1_000).objective == .macs)
        #expect(Objective.auto(macsPerImage: 15_999, parameters: 1_000).objective == .params)
        #expect(Objective.auto(macsPerImage: 100, parameters: 0).objective == .macs)  // no parameters counts as one
    }
}
