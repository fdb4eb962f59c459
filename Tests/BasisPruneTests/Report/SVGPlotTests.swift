@testable import BasisPrune
import Foundation
import TestSupport
import Testing

/// The `--plot` SVG from a report, rendered by a real renderer (librsvg's rsvg-convert).
@Suite struct SVGPlotTests {
    /// A double run: two filter rounds, three basis rounds (one rejected), three looks of which
    /// the last failed, the written model being basis round 1.
    static let reportJSON = """
        {"schema": "onnx-basisprune/prune", "schema_version": 2, "method": "double", "input": "dir/in.onnx", "output": "out.onnx",
         "layers": [
           {"name": "conv1", "op": "Conv", "output_channels_before": 32, "output_channels_after": 32, "rank": 27, "kept": 20, "remerged": true, "parameters_before": 896, "parameters_after": 896},
           {"name": "dw", "op": "Conv", "output_channels_before": 96, "output_channels_after": 64, "remerged": false, "parameters_before": 960, "parameters_after": 640},
           {"name": "conv2", "op": "Conv", "output_channels_before": 64, "output_channels_after": 64, "rank": 64, "kept": 12, "remerged": false, "parameters_before": 18496, "parameters_after": 4352},
           {"name": "fc", "op": "Gemm", "output_channels_before": 10, "output_channels_after": 10, "rank": 10, "kept": 10, "remerged": true, "parameters_before": 12810, "parameters_after": 12810}],
         "parameters_before": 33162, "parameters_after": 24000,
         "input_accuracy": {"validation": 0.92}, "output_accuracy": {"validation": 0.917}, "max_accuracy_drop": 1.0, "within_budget": true,
         "output_written": true,
         "filter": {"share": 4, "groups": 3, "groups_removed": 1, "filters_removed": 32, "parameters_after": 30000, "validation_accuracy": 0.919,
           "history": [
             {"round": 0, "kept_bases": 3, "layer_parameters": 33162, "parameters": 33162, "validation_accuracy": 0.92, "accepted": true},
             {"round": 1, "kept_bases": 2, "layer_parameters": 30000, "parameters": 30000, "validation_accuracy": 0.919, "accepted": true}]},
         "history": [
           {"round": 0, "kept_bases": 101, "layer_parameters": 29000, "parameters": 30000, "validation_accuracy": 0.921, "accepted": true},
           {"round": 1, "kept_bases": 80, "layer_parameters": 23000, "parameters": 24000, "validation_accuracy": 0.917, "accepted": true},
           {"round": 2, "kept_bases": 60, "layer_parameters": 15000, "parameters": 16000, "validation_accuracy": 0.89, "accepted": false},
           {"round": 3, "kept_bases": 70, "layer_parameters": 18000, "parameters": 19000, "validation_accuracy": 0.912, "accepted": true}],
         "certification": {"drop_upper_bound": 0.8, "drop": 0.3, "worse": 9, "better": 3, "confidence": 0.95, "images": 2000, "certified": true,
           "budget": 1.0, "procedure": "fixed-sequence", "mode": "labels", "bound": "Tango score",
           "looks": [
             {"stage": "filter", "round": 1, "parameters": 30000, "drop": 0.1, "drop_upper_bound": 0.5, "worse": 4, "better": 2, "certified": true},
             {"stage": "basis", "round": 1, "parameters": 24000, "drop": 0.3, "drop_upper_bound": 0.8, "worse": 9, "better": 3, "certified": true},
             {"stage": "basis", "round": 3, "parameters": 19000, "drop": 0.9, "drop_upper_bound": 1.4, "worse": 22, "better": 4, "certified": false}]},
         "phases": []}
        """

    static func report() throws -> PruneReport { try JSONDecoder().decode(PruneReport.self, from: Data(reportJSON.utf8)) }

    @Test func deterministicAndComplete() throws {
        let svg = SVGPlot(report: try Self.report()).svg()
        #expect(svg == SVGPlot(report: try Self.report()).svg())
        for text in ["validation accuracy (%)", "model parameters", "filter round", "basis round", "rejected", "budget floor",
                     "Certification looks", "bound within budget", "over budget", "written model", ">written<",
                     "Bases kept per split layer", "original rank", "conv2", "in.onnx", ">f1<", ">b1<", ">b3<"] {
            #expect(svg.contains(text), "\(text)")
        }
        // The depthwise layer (no rank) is not in the bases panel.
        #expect(!svg.contains(">dw<"))
        // Filter rounds are squares: two in the accuracy panel, one look, one legend sample.
        #expect(svg.components(separatedBy: "width=\"9\" height=\"9\"").count - 1 == 4)
        // Rejected and failed marks are hollow red: one round, one look, two legend samples.
        #expect(svg.components(separatedBy: "fill=\"#ffffff\" stroke=\"#d62728\"").count - 1 == 4)
        // The written model is ringed in both panels (and in the legend).
        #expect(svg.components(separatedBy: "r=\"9\" fill=\"none\"").count - 1 == 3)
    }

    /// The written model's mark sits where the report says: at its parameters on the x axis.
    @Test func sizesAreTheModelsParameters() throws {
        var report = try Self.report()
        let plot = SVGPlot(report: report)
        #expect(plot.rounds.map(\.parameters) == [33162, 30000, 30000, 24000, 16000, 19000])
        #expect(plot.writtenLook == 1)
        report.outputWritten = false
        #expect(SVGPlot(report: report).writtenLook == nil)
        #expect(!SVGPlot(report: report).svg().contains(">written<"))
    }

    /// With no split layer (filter pruning), the right panel shows output channels.
    @Test func filterOnlyShowsChannels() throws {
        var report = try Self.report()
        for i in report.layers.indices { (report.layers[i].rank, report.layers[i].kept) = (nil, nil) }
        let svg = SVGPlot(report: report).svg()
        #expect(svg.contains("Output channels kept per layer"))
        #expect(svg.contains(">dw<"))
    }

    @Test func rendersToANonBlankPNG() throws {
        let directory = Fixtures.temporaryDirectory("svg")
        try SVGPlot(report: try Self.report()).svg().write(toFile: directory + "/plot.svg", atomically: true, encoding: .utf8)
        let stats = try renderedPNGStats(directory + "/plot.svg")
        #expect(stats.colours >= 5)
        #expect(stats.nonWhite > 0.01)
    }
}
