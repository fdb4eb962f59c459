/// Imports `path` and runs the validation every command shares (`ModelValidation`): a model
/// any command refuses, all refuse, with exit 2 and one line naming the node.
func loadModel(_ path: String) throws(CLIError) -> Model {
    do {
        let model = try ONNXImporter.load(path: path)
        try ModelValidation.check(model, file: path)
        return model
    } catch { throw .usage(error.description) }
}

import BasisPrune

/// The files a command writes, checked before any work (so a run of hours never fails at its
/// last step) and written together at the end.
struct OutputFiles {
    /// `(what, path)`: "OUT", "--report", "--plot".
    var files: [(what: String, path: String)]

    /// Refuses an output that is the input model (unless it is OUT and `inPlace`), two outputs that
    /// are one file, and paths that cannot be written. Runs before the model is even read.
    init(inputs: [String], _ files: [(what: String, path: String?)], inPlace: Bool = false) throws(CLIError) {
        self.files = files.compactMap { entry in entry.path.map { (entry.what, $0) } }
        for (index, (what, path)) in self.files.enumerated() {
            if let input = inputs.first(where: { AtomicFile.sameFile($0, path) }), !(what == "OUT" && inPlace) {
                throw .usage(what == "OUT"
                    ? "\(path): OUT is the input model \(input); refusing to replace it (--in-place does)"
                    : "\(path): \(what) is the input model \(input); refusing to replace it")
            }
            for (other, otherPath) in self.files.prefix(index) where otherPath == path || AtomicFile.sameFile(otherPath, path) {
                throw .usage("\(path): \(what) and \(other) are the same file")
            }
            do { try AtomicFile.checkWritable(path) } catch {
                throw CLIError(message: "\(path): cannot write: \(error.reason)", code: .runtimeFailure)
            }
        }
    }
}

/// Files staged beside their destinations, renamed together by `commit()`.
struct StagedOutputs {
    private var staged: [AtomicFile.Staged] = []

    @discardableResult
    mutating func stage(_ bytes: [UInt8], to path: String) throws(CLIError) -> AtomicFile.Staged {
        do {
            let file = try AtomicFile.Staged(bytes, to: path)
            staged.append(file)
            return file
        } catch {
            throw CLIError(message: "\(path): cannot write: \(error.reason)", code: .runtimeFailure)
        }
    }

    func commit() throws(CLIError) {
        for file in staged {
            do { try file.commit() } catch { throw CLIError(message: "\(file.path): cannot write: \(error.reason)", code: .runtimeFailure) }
        }
    }
}
