import BasisPrune
import Foundation
import TestSupport
import Testing

/// The `--plot` SVG from a report, rendered by a real renderer (librsvg's rsvg-convert).
@Suite struct SVGPlotTests {
    static let reportJSON = """
        {"schema": "onnx-basisprune/prune", "schema_version": 2, "method": "basis", "input": "dir/in.onnx", "output": "out.onnx",
         "layers": [
           {"name": "conv1", "op": "Conv", "output_channels_before": 32, "output_channels_after": 32, "rank": 27, "kept": 20, "remerged": true, "parameters_before": 896, "parameters_after": 896},
           {"name": "conv2", "op": "Conv", "output_channels_before": 64, "output_channels_after": 64, "rank": 64, "kept": 12, "remerged": false, "parameters_before": 18496, "parameters_after": 4352},
           {"name": "fc", "op": "Gemm", "output_channels_before": 10, "output_channels_after": 10, "rank": 10, "kept": 10, "remerged": true, "parameters_before": 12810, "parameters_after": 12810}],
         "parameters_before": 32202, "parameters_after": 18058,
         "input_accuracy": {"validation": 0.92}, "output_accuracy": {"validation": 0.915}, "max_accuracy_drop": 1.0, "within_budget": true,
         "history": [
           {"round": 0, "kept_bases": 101, "layer_parameters": 32202, "validation_accuracy": 0.921, "accepted": true},
           {"round": 1, "kept_bases": 80, "layer_parameters": 25000, "validation_accuracy": 0.918, "accepted": true},
           {"round": 2, "kept_bases": 60, "layer_parameters": 17000, "validation_accuracy": 0.89, "accepted": false},
           {"round": 3, "kept_bases": 70, "layer_parameters": 18058, "validation_accuracy": 0.915, "accepted": true}],
         "phases": []}
        """

    static func report() throws -> PruneReport { try JSONDecoder().decode(PruneReport.self, from: Data(reportJSON.utf8)) }

    @Test func deterministicAndComplete() throws {
        let svg = SVGPlot(report: try Self.report()).svg()
        #expect(svg == SVGPlot(report: try Self.report()).svg())
        for text in ["validation accuracy (%)", "layer parameters kept", "accepted candidate", "rejected candidate", "budget floor",
                     "Bases kept per layer", "original rank", "conv2", "in.onnx"] {
            #expect(svg.contains(text), "\(text)")
        }
        // Three accepted marks filled, one rejected hollow.
        #expect(svg.components(separatedBy: "fill=\"#1f77b4\"/>").count - 1 >= 3)
        // Plus one in the legend.
        #expect(svg.components(separatedBy: "stroke=\"#d62728\"").count - 1 == 2)
    }

    @Test func rendersToANonBlankPNG() throws {
        let directory = Fixtures.temporaryDirectory("svg")
        try SVGPlot(report: try Self.report()).svg().write(toFile: directory + "/plot.svg", atomically: true, encoding: .utf8)
        let stats = try renderedPNGStats(directory + "/plot.svg")
        #expect(stats.colours >= 5)
        #expect(stats.nonWhite > 0.01)
    }
}
