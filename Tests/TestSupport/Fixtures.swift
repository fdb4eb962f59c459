import Foundation

/// Paths of the real material tests use: the repository and its `fixtures/`, Debian's data.
/// Everything a test reads is in the repository or in a Debian package `make deps` installs,
/// so a clone anywhere passes (`fixtures/PROVENANCE.md` says where each model comes from).
public enum Fixtures {
    /// The package root (found from this source file's location).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `fixtures/` in the repository: both models, copied unchanged from the shared material.
    public static var models: String { repositoryRoot + "/fixtures" }

    public static var fmnistModel: String { models + "/fmnist-lite0-32.onnx" }
    public static var imagenetModel: String { models + "/efficientnet-lite0-imagenet.onnx" }
    public static var bundledModel: String { fmnistModel }
    /// The small transfer set of issue 37 (fixtures/digits/build.py): scikit-learn's 8x8 digits
    /// as IDX files (1,437 training, 360 test images) and a Lite0 transferred to them at 32x32.
    public static var digitsModel: String { models + "/digits-lite0-32.onnx" }
    public static var digits: String { models + "/digits" }

    /// Debian's libonnx-testdata.
    public static let onnxTestData = "/usr/share/libonnx-testdata/data"

    /// Fashion-MNIST from Debian's dataset-fashion-mnist.
    public static let fashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// The release or debug build of the tool, whichever `swift test` built.
    public static var executable: String {
        let bundle = Bundle.main.bundleURL.deletingLastPathComponent()
        for dir in [bundle.path, repositoryRoot + "/.build/release", repositoryRoot + "/.build/debug"] {
            let candidate = dir + "/onnx-basisprune"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return repositoryRoot + "/.build/release/onnx-basisprune"
    }

    /// The test process's own folder under the system's temporary directory, holding every
    /// `temporaryDirectory`; removed when the process exits, unless BASISPRUNE_KEEP_TEST_FILES
    /// is set (to look at a failed test's files). A run used to leave about 60 folders behind.
    static let scratchRoot: String = {
        let root = NSTemporaryDirectory() + "basisprune-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if ProcessInfo.processInfo.environment["BASISPRUNE_KEEP_TEST_FILES"] == nil {
            atexit { try? FileManager.default.removeItem(atPath: Fixtures.scratchRoot) }
        }
        return root
    }()

    /// A fresh temporary directory (in `scratchRoot`).
    public static func temporaryDirectory(_ label: String = "test") -> String {
        let path = scratchRoot + "/\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Every `model.onnx` under the testdata suites (node, simple, pytorch-converted, pytorch-operator).
    public static func conformanceModels() -> [String] {
        var found: [String] = []
        for suite in ["node", "simple", "pytorch-converted", "pytorch-operator"] {
            let dir = onnxTestData + "/" + suite
            let cases = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for name in cases.sorted() where FileManager.default.fileExists(atPath: "\(dir)/\(name)/model.onnx") {
                found.append("\(dir)/\(name)/model.onnx")
            }
        }
        return found
    }
}
