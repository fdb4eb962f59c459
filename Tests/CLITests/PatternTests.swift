import Foundation
import TestSupport
import Testing

/// The graph patterns real exporters write (fixtures/patterns, made by
/// Tests/TestSupport/python/make_pattern_fixtures.py), through `split` and the main job with
/// every `--method`, judged by onnxruntime and the onnx checker.
@Suite(.serialized) struct PatternTests {
    static let patterns = [
        "residual", "concat", "squeeze_excite", "shuffle", "convnext", "convnext_dynamo", "reducemean_pool", "identity_weights",
    ]
    static let data = "idx:\(Fixtures.fashionMNIST)"
    /// The layers none of whose channels filter pruning may remove, per fixture: the head (a
    /// graph output), a grouped conv and the layer it reads, and the residual stream of the
    /// ConvNeXt whose LayerNorms are written out (ReduceMean over the channels, which the channel
    /// analysis does not follow). With LayerNormalization ops (`convnext_dynamo`) the stream is
    /// pruned through them, and in both the blocks' 4x expansions, 1x1 convs after
    /// `ChannelsLastToConv`, are.
    static let unprunableChannels: [String: Set<String>] = [
        "residual": ["logits"], "concat": ["logits"], "squeeze_excite": ["logits"], "shuffle": ["final", "grouped", "logits"],
        "convnext": ["stem", "block0.dwconv", "linear_24", "block1.dwconv", "linear_52", "head"],
        "convnext_dynamo": ["head"],
        "reducemean_pool": ["logits"], "identity_weights": ["logits"],
    ]

    static func fixture(_ name: String) -> String { Fixtures.repositoryRoot + "/fixtures/patterns/\(name).onnx" }

    /// onnxruntime on both models: the candidate passes the checker and has the reference's output shape.
    func compare(_ reference: String, _ candidate: String) throws -> [String: Any] {
        let judged = try runJudge("ort_compare.py", [reference, candidate]) as! [String: Any]
        #expect(judged["checker"] as? String == "ok", "\(candidate): \(judged)")
        #expect(judged["shape"] as? [Int] == [4, 10], "\(candidate): \(judged)")
        return judged
    }

    @Test(arguments: patterns)
    func splitIsExactInONNXRuntime(_ name: String) throws {
        let out = Fixtures.temporaryDirectory("pattern-split") + "/\(name).onnx"
        let result = try run(Fixtures.executable, ["split", Self.fixture(name), out])
        #expect(result.status == 0, "\(result.stderr)")
        let judged = try compare(Self.fixture(name), out)
        let relative = try #require(judged["relative_difference"] as? Double)
        print("\(name): split, onnxruntime max relative difference \(relative)")
        #expect(relative < 1e-5)
        // Layers left whole are named with the reason on stdout.
        if name == "shuffle" { #expect(result.stdout.contains("grouped conv (group 4) is not split"), "\(result.stdout)") }
    }

    /// Each method at --prune-ratio 0.5 --force on 128 training and 128 validation images (in
    /// rounds of a quarter of what remains, to keep the suite short) writes a
    /// model the checker accepts and onnxruntime runs to [N, 10]; the report's `skipped` names a
    /// reason for every layer a stage left alone, and only those: every other layer is split and
    /// loses bases (basis, double), and loses output channels (filter, double).
    @Test(arguments: patterns)
    func everyMethodWritesARunnableModel(_ name: String) throws {
        let directory = Fixtures.temporaryDirectory("pattern-prune")
        for method in ["basis", "filter", "double"] {
            let out = directory + "/\(name)-\(method).onnx", reportPath = directory + "/\(name)-\(method).json"
            let result = try run(Fixtures.executable, [
                Self.fixture(name), out, "--data", "\(Self.data),range=0:128", "--val-data", "\(Self.data),split=test,range=0:128",
                "--retrain-images", "128", "--batch-size", "32", "--prune-ratio", "0.5", "--round-fraction", "0.25", "--force", "--method", method,
                "--report", reportPath,
                // The fixtures' layers are 8 to 64 channels wide, where blocks of 8 (the default
                // --channel-multiple) leave some layers nothing to remove; alignment has its own
                // tests (AlignmentTests, PruneTests on the real model).
                "--channel-multiple", "1",
            ])
            // --force writes OUT and exits 3 when the (random-weight) model misses the budget.
            #expect(result.status == 0 || result.status == 3, "\(name) --method \(method): \(result.stderr)")
            _ = try compare(Self.fixture(name), out)
            #expect(try schemaError("prune", document: reportPath) == nil)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
            let layers = try #require(report["layers"] as? [[String: Any]])
            let skipped = try #require(report["skipped"] as? [[String: String]])
            let skippedBy = { (stage: String) in Set(skipped.filter { $0["stage"] == stage }.map { $0["layer"]! }) }
            for entry in skipped { #expect(!(entry["reason"] ?? "").isEmpty, "\(entry)") }
            // The stderr summary line names the skipped layers.
            if !skipped.isEmpty { #expect(result.stderr.contains("skipped: "), "\(result.stderr)") }
            var trace: [String] = []
            for layer in layers {
                let layerName = layer["name"] as! String
                let rank = layer["rank"] as? Int, kept = layer["kept"] as? Int
                let channels = (layer["output_channels_before"] as! Int, layer["output_channels_after"] as! Int)
                trace.append("\(layerName): rank \(rank.map(String.init) ?? "-"), kept \(kept.map(String.init) ?? "-"), channels \(channels.0) -> \(channels.1)")
                if method != "filter" {
                    // Split exactly when not listed as skipped by the split.
                    #expect((rank != nil) != skippedBy("split").contains(layerName), "\(name) --method \(method): \(layerName)")
                }
                if method != "filter", let rank, let kept {
                    #expect(kept < rank, "\(name) --method \(method): \(layerName) kept all \(rank) bases")
                }
                if method != "basis" {
                    // Loses channels exactly when not listed as unprunable.
                    #expect((channels.1 < channels.0) != skippedBy("channels").contains(layerName),
                            "\(name) --method \(method): \(layerName) channels \(channels.0) -> \(channels.1)")
                }
            }
            print("\(name) --method \(method) (exit \(result.status)):\n  " + trace.joined(separator: "\n  ")
                  + "\n  skipped: " + skipped.map { "\($0["layer"]!) [\($0["stage"]!)]: \($0["reason"]!)" }.joined(separator: "\n           "))
            if method == "filter", let expected = Self.unprunableChannels[name] {
                #expect(skippedBy("channels") == expected, "\(name)")
            }
            if method != "basis" {
                let filter = try #require(report["filter"] as? [String: Any])
                let prunable = layers.count - skippedBy("channels").count
                if prunable > 0 {
                    #expect((filter["groups_removed"] as? Int ?? 0) > 0, "\(name) --method \(method): no channel group removed")
                }
            }
        }
    }

    /// The exporter's de-duplicated weights arrive through Identity: the simplify pass folds the
    /// Identity, so the layers that read them are split like any other.
    @Test func identityRoutedWeightsAreSplit() throws {
        let directory = Fixtures.temporaryDirectory("pattern-identity")
        let model = directory + "/basis.onnx", out = directory + "/report.json"
        let result = try run(Fixtures.executable, [
            Self.fixture("identity_weights"), model, "--data", "\(Self.data),range=0:256", "--val-data", "\(Self.data),split=test,range=0:128",
            "--retrain-images", "256", "--prune-ratio", "0.5", "--force", "--method", "basis", "--report", out,
        ])
        #expect(result.status == 0 || result.status == 3, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let layers = try #require(report["layers"] as? [[String: Any]])
        let skipped = try #require(report["skipped"] as? [[String: String]])
        #expect(skipped.isEmpty, "\(skipped)")
        for name in ["conv3", "logits"] {
            let layer = try #require(layers.first { $0["name"] as? String == name }, "\(name) is not in the report")
            #expect(layer["rank"] != nil, "\(name) is not split")
        }
    }
}
