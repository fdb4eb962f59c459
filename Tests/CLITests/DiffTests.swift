import BasisPrune
import Foundation
import TestSupport
import Testing

/// `diff` end to end: whole outputs against golden files, split layers, the JSON schemas.
@Suite struct DiffTests {
    static let golden = Fixtures.repositoryRoot + "/Tests/Golden"
    static let conv2d = Fixtures.onnxTestData + "/pytorch-converted/test_Conv2d/model.onnx"

    /// Writes `model` split and exported with `choices` (nil: every layer split, all bases) to `path`,
    /// with no linear pairs fused, so that every layer keeps its own nodes for the diff to match.
    static func export(_ model: String, to path: String, keepHalf: Bool) throws {
        let (split, layers) = try Pipeline.split(ONNXImporter.load(path: model))
        var choices: [String: BasisExport.Choice] = [:]
        if keepHalf {
            for layer in layers {
                choices[layer.factors] = BasisExport.Choice(factors: Array(repeating: 1, count: layer.rank),
                                                            kept: (0..<layer.rank).map { $0 < max(1, layer.rank / 2) })
            }
        }
        try ONNXExporter.write(Pipeline.export(split, layers: layers, choices: choices, remerge: keepHalf, fuse: false), to: path)
    }

    /// Compares `text` with the golden file `name` (UPDATE_GOLDEN=1 rewrites it).
    static func expectGolden(_ text: String, _ name: String) throws {
        let path = golden + "/" + name
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == expected, "\(name) differs; run with UPDATE_GOLDEN=1 and review `git diff Tests/Golden`")
    }

    /// Runs `diff` with machine-specific directories replaced, so goldens hold on every machine.
    static func diffOutput(_ arguments: [String], directory: String) throws -> String {
        let result = try run(Fixtures.executable, ["diff"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        return result.stdout.replacingOccurrences(of: directory, with: "$TMP")
            .replacingOccurrences(of: Fixtures.onnxTestData, with: "$TESTDATA")
            .replacingOccurrences(of: Fixtures.models, with: "$MODELS")
    }

    @Test func conformanceModelAgainstItsSplitMatchesGolden() throws {
        let directory = Fixtures.temporaryDirectory("diff")
        try Self.export(Self.conv2d, to: directory + "/split.onnx", keepHalf: false)
        try Self.expectGolden(try Self.diffOutput([Self.conv2d, directory + "/split.onnx"], directory: directory), "diff-conv2d-split.txt")
        try Self.expectGolden(try Self.diffOutput([Self.conv2d, directory + "/split.onnx", "--json"], directory: directory), "diff-conv2d-split.json")
    }

    @Test func fmnistAgainstAHalfExportMatchesGolden() throws {
        let directory = Fixtures.temporaryDirectory("diff")
        try Self.export(Fixtures.fmnistModel, to: directory + "/half.onnx", keepHalf: true)
        let text = try Self.diffOutput([Fixtures.fmnistModel, directory + "/half.onnx"], directory: directory)
        try Self.expectGolden(text, "diff-fmnist-half.txt")
        // Every layer that stays split is listed with its rank change.
        let (_, layers) = try Pipeline.split(ONNXImporter.load(path: Fixtures.fmnistModel))
        for layer in layers where !layer.remerges(kept: max(1, layer.rank / 2)) {
            let row = text.split(separator: "\n").first { $0.hasPrefix(layer.name + " ") }
            #expect(row?.contains("split, rank \(min(layer.inputLength, layer.outputChannels)) -> \(max(1, layer.rank / 2)) bases") == true, "\(layer.name)")
        }
    }

    @Test func fmnistAgainstEveryLayerSplit() throws {
        let directory = Fixtures.temporaryDirectory("diff")
        try Self.export(Fixtures.fmnistModel, to: directory + "/split.onnx", keepHalf: false)
        let result = try run(Fixtures.executable, ["diff", Fixtures.fmnistModel, directory + "/split.onnx", "--json", "--report", directory + "/diff.json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: directory + "/diff.json", encoding: .utf8) == result.stdout)
        #expect(try schemaError("diff", document: directory + "/diff.json") == nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "onnx-basisprune/diff")
        let changes = try #require((object["diff"] as? [String: Any])?["changes"] as? [[String: Any]])
        #expect(changes.count == 34)
        #expect(changes.allSatisfy { $0["kind"] as? String == "split" && $0["rank"] as? Int == $0["bases"] as? Int })
    }

    @Test func inspectJSONAndReportMatchTheSchema() throws {
        let directory = Fixtures.temporaryDirectory("inspect")
        let result = try run(Fixtures.executable, ["inspect", Fixtures.fmnistModel, "--report", directory + "/inspect.json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("model        "))
        #expect(try schemaError("inspect", document: directory + "/inspect.json") == nil)
        let json = try run(Fixtures.executable, ["inspect", Self.conv2d, "--json"])
        try json.stdout.write(toFile: directory + "/conv2d.json", atomically: true, encoding: .utf8)
        #expect(try schemaError("inspect", document: directory + "/conv2d.json") == nil)
    }

    @Test func helpDocumentsEveryExitCode() throws {
        for command in [["--help"], ["inspect", "--help"], ["diff", "--help"], ["prune", "--help"], ["split", "--help"], ["eval", "--help"]] {
            let result = try run(Fixtures.executable, command)
            #expect(result.status == 0)
            for code in ["EXIT CODES:", "  0  success", "  1  runtime failure", "  2  usage error", "  3  the accuracy budget", "  4  --verify failed"] {
                #expect(result.stdout.contains(code), "\(command) lacks \(code)")
            }
        }
    }
}
