/// Why an ONNX file could not be read or written. `description` is one line naming the file.
public struct ONNXError: Error, CustomStringConvertible, Equatable {
    public enum Problem: Equatable, Sendable {
        case unreadable(reason: String)
        case notONNX(reason: String)
        case truncated(reason: String)
        case unsupportedIRVersion(Int64)
        case danglingInput(node: String, input: String)
        case unknownDataType(code: Int32, tensor: String)
        case invalidTensor(tensor: String, reason: String)
        case externalData(tensor: String, reason: String)
        case invalidModel(reason: String)
        case writeFailed(reason: String)
    }

    public var file: String
    public var problem: Problem

    public init(file: String, _ problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        let what: String
        switch problem {
        case .unreadable(let reason): what = "cannot read file: \(reason)"
        case .notONNX(let reason): what = "not an ONNX model: \(reason)"
        case .truncated(let reason): what = "truncated ONNX file: \(reason)"
        case .unsupportedIRVersion(let v):
            what = "unsupported IR version \(v) (this tool reads IR versions \(ONNXImporter.supportedIRVersions.lowerBound) to \(ONNXImporter.supportedIRVersions.upperBound))"
        case .danglingInput(let node, let input):
            what = "node '\(node)' reads tensor '\(input)', which no graph input, initializer or earlier node defines"
        case .unknownDataType(let code, let tensor): what = "tensor '\(tensor)' has unknown data type \(code)"
        case .invalidTensor(let tensor, let reason): what = "tensor '\(tensor)': \(reason)"
        case .externalData(let tensor, let reason): what = "external data of tensor '\(tensor)': \(reason)"
        case .invalidModel(let reason): what = reason
        case .writeFailed(let reason): what = "cannot write: \(reason)"
        }
        return "\(file): \(what)"
    }
}
