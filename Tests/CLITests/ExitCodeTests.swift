import Foundation
import TestSupport
import Testing

/// One real run per exit code of the built binary (README "Exit codes").
@Suite(.serialized) struct ExitCodeTests {
    static let data = "idx:\(Fixtures.fashionMNIST)"
    /// A tiny run that removes 90 % of the bases: far below a zero-point budget.
    static let hopeless = ["--data", "\(data),range=0:200", "--val-data", "\(data),split=test,range=0:200", "--retrain-images", "100",
                           "--epochs", "0", "--prune-ratio", "0.9", "--round-fraction", "0.9", "--max-accuracy-drop", "0"]

    @Test func zeroOnSuccess() throws {
        let result = try run(Fixtures.executable, ["diff", Fixtures.bundledModel, Fixtures.bundledModel])
        #expect(result.status == 0)
        #expect(result.stdout.contains("50 unchanged"))
    }

    @Test func oneWhenOutCannotBeWritten() throws {
        let missing = Fixtures.temporaryDirectory("exit1") + "/no/such/dir"
        let split = try run(Fixtures.executable, ["split", Fixtures.bundledModel, missing + "/out.onnx"])
        #expect(split.status == 1, "\(split.stderr)")
        let report = try run(Fixtures.executable, ["inspect", Fixtures.bundledModel, "--report", missing + "/r.json"])
        #expect(report.status == 1)
        #expect(report.stderr.hasPrefix("onnx-basisprune: \(missing)/r.json: cannot write: "))
        let prune = try run(Fixtures.executable, [Fixtures.bundledModel, missing + "/out.onnx", "--data", "\(Self.data),range=0:200",
                                                  "--val-data", "\(Self.data),split=test,range=0:100", "--epochs", "0",
                                                  "--prune-ratio", "0.2", "--round-fraction", "0.9", "--retrain-images", "100", "--quiet"])
        #expect(prune.status == 1, "\(prune.stderr)")
        #expect(prune.stderr.split(separator: "\n").count == 1)
    }

    @Test func twoOnUsageErrors() throws {
        let result = try run(Fixtures.executable, ["diff", Fixtures.bundledModel])
        #expect(result.status == 2)
        #expect(result.stderr == "onnx-basisprune: diff takes exactly two models A.onnx B.onnx (see onnx-basisprune diff --help)\n")
    }

    /// The budget cannot be met: no OUT, only the report (why), and only the error on stderr with
    /// --quiet (no warning either, although --val-data is missing); --force writes OUT, the
    /// report and plot.
    @Test func threeWhenTheBudgetCannotBeMet() throws {
        let directory = Fixtures.temporaryDirectory("exit3")
        let out = directory + "/out.onnx"
        var noValidation = Self.hopeless
        noValidation.removeSubrange(2...3)
        let refusedReport = directory + "/refused.json"
        let refused = try run(Fixtures.executable, [Fixtures.bundledModel, out] + noValidation + ["--quiet", "--report", refusedReport])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.hasPrefix("onnx-basisprune: the accuracy budget cannot be certified: "))
        #expect(refused.stderr.hasSuffix("; \(refusedReport) says why\n"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out))
        // The report is written all the same: why nothing certified, and that OUT was not written.
        #expect(try schemaError("prune", document: refusedReport) == nil)
        let why = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: refusedReport))) as? [String: Any])
        #expect(why["output_written"] as? Bool == false && why["within_budget"] as? Bool == false)
        // A budget of 0 points no certification set can meet: the power check stops the job before any training.
        let certification = try #require(why["certification"] as? [String: Any])
        #expect((certification["power"] as? [String: Any])?["sufficient"] as? Bool == false)
        #expect((certification["looks"] as? [Any])?.isEmpty == true)
        #expect((why["phases"] as? [[String: Any]])?.map { $0["name"] as? String } == ["power check"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["refused.json"])

        let forced = try run(Fixtures.executable, [Fixtures.bundledModel, out] + Self.hopeless
                             + ["--force", "--quiet", "--report", directory + "/report.json", "--plot", directory + "/plot.svg"])
        #expect(forced.status == 3, "\(forced.stderr)")
        #expect(FileManager.default.fileExists(atPath: out))
        #expect(forced.stdout.contains("model totals"))
        #expect(try schemaError("prune", document: directory + "/report.json") == nil)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json"))) as? [String: Any])
        #expect(report["within_budget"] as? Bool == false && report["output_written"] as? Bool == true)
        let stats = try renderedPNGStats(directory + "/plot.svg")
        #expect(stats.colours >= 5)
        #expect(stats.nonWhite > 0.01)
    }

    /// --force writes a model below the budget; --verify reloads it, finds it below the
    /// accuracy floor and exits 4, with the verification in the report.
    @Test func fourWhenVerificationFails() throws {
        let directory = Fixtures.temporaryDirectory("exit4")
        let out = directory + "/out.onnx"
        let result = try run(Fixtures.executable, [Fixtures.bundledModel, out] + Self.hopeless
                             + ["--force", "--verify", "--quiet", "--report", directory + "/report.json"])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("onnx-basisprune: --verify failed: "))
        #expect(result.stdout.contains("FAILED"))
        #expect(FileManager.default.fileExists(atPath: out))
        #expect(try schemaError("prune", document: directory + "/report.json") == nil)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json"))) as? [String: Any])
        let verify = try #require(report["verify"] as? [String: Any])
        #expect(verify["passed"] as? Bool == false)
        let agreement = try #require(verify["agreement"] as? Double)
        #expect(agreement >= 0 && agreement < 1)
    }
}
