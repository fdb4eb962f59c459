import BasisPrune
import Foundation
import TestSupport
import Testing

/// `Simplify` judged by onnxruntime and the onnx checker: the simplified graph computes what the
/// input computes (1e-5 relative), on real models and on every conformance model.
@Suite struct SimplifyTests {
    /// Simplifies `path` into `directory` and compares the two in onnxruntime on a random batch.
    static func compare(_ path: String, shape: String, directory: String) throws -> (Simplify.Statistics, [String: Any]) {
        let (simplified, statistics) = try Simplify.run(try ONNXImporter.load(path: path))
        let out = directory + "/" + (path as NSString).lastPathComponent
        try ONNXExporter.write(simplified, to: out)
        let judged = try runJudge("ort_compare.py", [path, out, shape]) as! [String: Any]
        return (statistics, judged)
    }

    @Test func fmnistLosesItsPaddingArithmetic() throws {
        let (statistics, judged) = try Self.compare(Fixtures.bundledModel, shape: "8x3x32x32", directory: Fixtures.temporaryDirectory("simplify"))
        print("fmnist-lite0-32: \(statistics)")
        #expect(judged["checker"] as? String == "ok")
        #expect((judged["relative_difference"] as? Double ?? 1) <= 1e-5, "\(judged)")
        #expect((judged["shape"] as? [Int]) == [8, 10])
        #expect(statistics.nodesBefore == 1472)
        #expect(statistics.nodesAfter <= 100)
        #expect(statistics.padsFused == 17)
        // What stays is the network itself: 49 Convs, 33 Clips, 9 residual Adds, pool, flatten, head.
        let model = try ONNXImporter.load(path: Fixtures.bundledModel)
        let ops = Dictionary(grouping: try Simplify.run(model).model.graph.nodes, by: \.opType).mapValues(\.count)
        #expect(ops == ["Conv": 49, "Clip": 33, "Add": 9, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1])
    }

    @Test func imagenetModelStaysExact() throws {
        let (_, judged) = try Self.compare(Fixtures.imagenetModel, shape: "2x3x224x224", directory: Fixtures.temporaryDirectory("simplify"))
        #expect(judged["checker"] as? String == "ok")
        #expect((judged["relative_difference"] as? Double ?? 1) <= 1e-5, "\(judged)")
    }

    /// A batch-dependent Reshape target (`[N, -1]` from Shape) must stay computed at run time,
    /// while the spatial padding arithmetic folds: the result runs at batch 1 and 5 alike.
    @Test func batchDependentShapesStay() throws {
        let model = try ONNXImporter.load(path: Fixtures.bundledModel)
        let simplified = try Simplify.run(model).model
        let executor = try Executor(model: simplified)
        for batch in [1, 5] {
            let x = Value(shape: [batch, 3, 32, 32], floats: (0..<(batch * 3072)).map { Float($0 % 17) / 17 })
            let y = try executor.run(["input": x])["logits"]!
            #expect(y.shape == [batch, 10])
        }
    }

    @Test func conformanceModelsKeepTheirOutputs() throws {
        let directory = Fixtures.temporaryDirectory("simplify-conformance")
        var manifest = "", changed = 0, accepted = 0
        for (index, path) in Fixtures.conformanceModels().enumerated() {
            guard let model = try? ONNXImporter.load(path: path) else { continue }
            accepted += 1
            let (simplified, statistics) = try Simplify.run(model)
            guard statistics.nodesAfter != statistics.nodesBefore || statistics.folded > 0 else { continue }
            changed += 1
            let out = "\(directory)/\(index).onnx"
            try ONNXExporter.write(simplified, to: out)
            let line = ["name": path, "original": path, "exported": out, "case_dir": (path as NSString).deletingLastPathComponent]
            manifest += String(decoding: try JSONSerialization.data(withJSONObject: line), as: UTF8.self) + "\n"
        }
        let judged = try runJudge("roundtrip_judge.py", ["--rtol", "1e-5"], stdin: manifest) as! [[String: String]]
        print("simplify: \(accepted) conformance models imported, \(changed) changed by simplify, judged \(judged.count)")
        #expect(changed >= 20)
        for outcome in judged {
            let name = outcome["name"]!
            if outcome["checker_original"] == "ok" { #expect(outcome["checker_exported"] == "ok", "\(name): \(outcome["checker_exported"]!)") }
            #expect(!outcome["ort"]!.hasPrefix("differs") && !outcome["ort"]!.hasPrefix("exported-fails"), "\(name): \(outcome["ort"]!)")
        }
    }
}
