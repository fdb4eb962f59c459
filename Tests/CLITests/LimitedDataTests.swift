import BasisPrune
import Foundation
import TestSupport
import Testing

/// Limited data (issue 37): the power check before any training, certification by agreement
/// with no labels, and `--certify off`, on the small digits transfer set and on Fashion-MNIST
/// images written without labels; every written file judged by onnxruntime and the checker.
@Suite(.serialized) struct LimitedDataTests {
    static let digits = "idx:\(Fixtures.digits)"

    func report(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// onnxruntime's top-1 answers of the input and `model` on IDX images, compared image by image.
    func agreement(_ model: String, _ input: String, _ directory: String, _ split: String, _ range: Range<Int>) throws -> [String: Any] {
        try runJudge("ort_agreement.py", [input, model, directory, split, "\(range.lowerBound)", "\(range.upperBound)"]) as! [String: Any]
    }

    /// 180 certification images cannot certify 1 point even for an unchanged model: the job
    /// stops with exit 3 before any training, says how many images the budget needs and the
    /// ways out, writes the report (which records the same) and no model.
    @Test func tooFewImagesStopBeforeTraining() throws {
        let directory = Fixtures.temporaryDirectory("power")
        let out = directory + "/out.onnx", reportPath = directory + "/report.json"
        let result = try run(Fixtures.executable, [Fixtures.digitsModel, out, "--data", Self.digits, "--val-data", "\(Self.digits),split=test",
                                                   "--report", reportPath])
        #expect(result.status == 3, "\(result.stderr)")
        let line = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n"), "one line: \(line)")
        // With double the basis candidates' sequence is checked at 96 % (--fallback-alpha 0.2).
        #expect(line.contains("180 certification images can certify an accuracy drop of 1.67 pt at best (a model that changes no answer, 96 % confidence)"))
        #expect(line.contains("needs at least 304 certification images") && line.contains("321 without labels") && line.contains("--certify off"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let report = try report(reportPath)
        #expect(try schemaError("prune", document: reportPath) == nil)
        #expect((report["phases"] as? [[String: Any]])?.map { $0["name"] as? String } == ["power check"])
        let certification = try #require(report["certification"] as? [String: Any])
        let power = try #require(certification["power"] as? [String: Any])
        #expect(power["sufficient"] as? Bool == false && power["images_needed"] as? Int == 304 && power["agreement_images_needed"] as? Int == 321)
        #expect(certification["certified"] as? Bool == false && certification["mode"] as? String == "labels")
        #expect(report["output_written"] as? Bool == false)
    }

    /// At a 3-point budget the same 180 images certify, and the digits model loses at least half
    /// its parameters; onnxruntime finds the changed answers the report states.
    @Test func smallTransferSetCertifiesThreePoints() throws {
        let directory = Fixtures.temporaryDirectory("digits3")
        let out = directory + "/out.onnx", reportPath = directory + "/report.json"
        let result = try run(Fixtures.executable, [Fixtures.digitsModel, out, "--data", Self.digits, "--val-data", "\(Self.digits),split=test",
                                                   "--max-accuracy-drop", "3", "--report", reportPath, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try report(reportPath)
        #expect(try schemaError("prune", document: reportPath) == nil)
        let certification = try #require(report["certification"] as? [String: Any])
        #expect(certification["certified"] as? Bool == true && certification["mode"] as? String == "labels")
        let bound = try #require(certification["drop_upper_bound"] as? Double)
        #expect(bound <= 3)
        let before = try #require(report["parameters_before"] as? Int), after = try #require(report["parameters_after"] as? Int)
        #expect(Double(after) <= 0.5 * Double(before), "\(before) -> \(after)")
        #expect((try runJudge("check_model.py", [out]) as! [String: String])[out] == "ok")
        // The whole test split in onnxruntime: its paired drop is within what 360 images can say of a 3-point bound.
        let judged = try agreement(out, Fixtures.digitsModel, Fixtures.digits, "t10k", 0..<360)
        let drop = Double((judged["worse"] as! Int) - (judged["better"] as! Int)) / 360
        print("digits at 3 points: \(before) -> \(after) parameters, bound \(bound) pt, onnxruntime drop on the 360 test images \(100 * drop) pt")
        #expect(100 * drop <= bound + 1)
    }

    /// `--certify off`: the search's result is written with exit 0 and called uncertified, with
    /// its estimate and the estimate's interval, measured on all 360 validation images.
    @Test func certifyOffWritesAnEstimate() throws {
        let directory = Fixtures.temporaryDirectory("certify-off")
        let out = directory + "/out.onnx", reportPath = directory + "/report.json"
        let result = try run(Fixtures.executable, [Fixtures.digitsModel, out, "--data", Self.digits, "--val-data", "\(Self.digits),split=test",
                                                   "--certify", "off", "--report", reportPath, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("NOT certified (--certify off): estimated accuracy drop"))
        let report = try report(reportPath)
        #expect(try schemaError("prune", document: reportPath) == nil)
        let certification = try #require(report["certification"] as? [String: Any])
        #expect(certification["mode"] as? String == "off" && certification["certified"] as? Bool == false && certification["images"] as? Int == 360)
        let interval = try #require(certification["interval"] as? [Double])
        let drop = try #require(certification["drop"] as? Double)
        #expect(interval.count == 2 && interval[0] < drop && drop < interval[1])
        #expect(report["output_written"] as? Bool == true)
        let judged = try agreement(out, Fixtures.digitsModel, Fixtures.digits, "t10k", 0..<360)
        let measured = 100 * Double((judged["worse"] as! Int) - (judged["better"] as! Int)) / 360
        #expect(abs(measured - drop) < 0.3, "onnxruntime \(measured) pt, report \(drop) pt")
    }

    /// No labels anywhere: unlabeled training, validation and certification images. The job
    /// certifies by agreement (Clopper-Pearson), and onnxruntime counts the same changed
    /// answers on the certification images as the report; the bound is at or above the drop
    /// onnxruntime measures on labelled test images no step saw.
    @Test func noLabelsCertifiesByAgreement() throws {
        let directory = Fixtures.temporaryDirectory("agreement")
        func folder(_ name: String, _ split: String, _ range: Range<Int>) throws -> String {
            let path = directory + "/" + name
            let written = try runJudge("write_fmnist_pngs.py", [Fixtures.fashionMNIST, split, "\(range.lowerBound)", "\(range.upperBound)", path])
            #expect((written as? [String: Int])?["written"] == range.count)
            return path
        }
        let train = try folder("train", "train", 0..<1000), validation = try folder("val", "t10k", 0..<500)
        let certification = try folder("cert", "t10k", 500..<2500)
        let out = directory + "/out.onnx", reportPath = directory + "/report.json"
        let result = try run(Fixtures.executable, [Fixtures.bundledModel, out, "--loss", "distill", "--data", "folder:\(train)",
                                                   "--val-data", "folder:\(validation)", "--cert-data", "folder:\(certification)",
                                                   "--max-accuracy-drop", "2", "--retrain-images", "1000", "--report", reportPath, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try report(reportPath)
        #expect(try schemaError("prune", document: reportPath) == nil)
        let stated = try #require(report["certification"] as? [String: Any])
        #expect(stated["mode"] as? String == "agreement" && stated["certified"] as? Bool == true && stated["images"] as? Int == 2000)
        #expect((stated["bound"] as? String)?.contains("Clopper-Pearson") == true)
        #expect(result.stdout.contains("certification images without labels (answers differ from the input model's on"))
        // By agreement the searches take the agreement steps (PruningOptions.Steps).
        #expect(report["round_fraction"] as? Double == 0.05)
        #expect((report["filter"] as? [String: Any])?["share"] as? Double == 0.5)
        let before = try #require(report["parameters_before"] as? Int), after = try #require(report["parameters_after"] as? Int)
        #expect(after < before)
        #expect((try runJudge("check_model.py", [out]) as! [String: String])[out] == "ok")
        let onCertification = try agreement(out, Fixtures.bundledModel, Fixtures.fashionMNIST, "t10k", 500..<2500)
        #expect(onCertification["differ"] as? Int == stated["worse"] as? Int, "onnxruntime \(onCertification), report \(stated)")
        let bound = try #require(stated["drop_upper_bound"] as? Double)
        let onTest = try agreement(out, Fixtures.bundledModel, Fixtures.fashionMNIST, "t10k", 7500..<10000)
        let testDrop = 100 * Double((onTest["worse"] as! Int) - (onTest["better"] as! Int)) / 2500
        print("no labels: \(before) -> \(after) parameters, bound \(bound) pt, onnxruntime test drop \(testDrop) pt, differ \(onTest["differ"]!) of 2500")
        #expect(testDrop <= bound)
    }
}
