import Foundation
import TestSupport
import Testing

/// The main job end to end on the ConvNeXt fixtures (issue 40), both exporters' files, every
/// `--method`: the output passes the onnx checker and runs in onnxruntime to [4, 10], and the
/// filter stage removes channels (the 4x expansions of the blocks, now 1x1 convs with a GELU
/// between them, which it could not while they were channels-last MatMuls, and the residual
/// streams through their LayerNorms over channels).
@Suite(.serialized) struct ConvNeXtJobTests {
    static let data = "idx:\(Fixtures.fashionMNIST)"

    @Test(arguments: ["convnext-tiny2-32", "convnext-tiny2-32-dynamo"])
    func everyMethodWritesARunnableModel(_ name: String) throws {
        let fixture = Fixtures.models + "/\(name).onnx"
        let directory = Fixtures.temporaryDirectory("convnext-prune")
        for method in ["basis", "filter", "double"] {
            let out = directory + "/\(name)-\(method).onnx", reportPath = directory + "/\(name)-\(method).json"
            let result = try run(Fixtures.executable, [
                fixture, out, "--data", "\(Self.data),range=0:128", "--val-data", "\(Self.data),split=test,range=0:128",
                "--retrain-images", "128", "--batch-size", "32", "--prune-ratio", "0.5", "--round-fraction", "0.25", "--force",
                "--method", method, "--report", reportPath, "--channel-multiple", "1",
            ])
            // --force writes OUT and exits 3 when the random-weight model misses the budget.
            #expect(result.status == 0 || result.status == 3, "\(name) --method \(method): \(result.stderr)")
            let judged = try runJudge("ort_compare.py", [fixture, out]) as! [String: Any]
            #expect(judged["checker"] as? String == "ok", "\(out): \(judged)")
            #expect(judged["shape"] as? [Int] == [4, 10], "\(out): \(judged)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
            let before = try #require(report["parameters_before"] as? Int), after = try #require(report["parameters_after"] as? Int)
            print("\(name) --method \(method): parameters \(before) -> \(after), exit \(result.status)")
            #expect(after < before)
            if method == "filter" {
                // Half of the expansions alone (4 blocks of 4C channels, C = 24, 24, 48, 48) keeps 61 %
                // of the parameters; half of the residual streams' channels too keeps less than half.
                #expect(result.stdout.contains("removed") || result.stderr.contains("removed"), "\(result.stdout)")
                #expect(Double(after) <= 0.5 * Double(before))
            }
        }
    }
}
