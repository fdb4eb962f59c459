import BasisPrune
import Foundation

/// onnxruntime as the independent judge of a model's outputs (through a Python subprocess).
public enum ONNXRuntimeJudge {
    /// The first output of `model` in onnxruntime for the float32 `input`.
    public static func run(model: String, input: Value) throws -> Value {
        let directory = Fixtures.temporaryDirectory("ort")
        let inputPath = directory + "/input.f32", outputPath = directory + "/output.f32"
        try input.withElements(as: Float.self) { try Data(buffer: $0).write(to: URL(fileURLWithPath: inputPath)) }
        let shape = input.shape.map(String.init).joined(separator: "x")
        let result = try runJudge("ort_run.py", [model, inputPath, shape, outputPath]) as! [String: [Int]]
        let floats = try Data(contentsOf: URL(fileURLWithPath: outputPath)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return Value(shape: result["shape"]!, floats: floats)
    }
}

/// Real Fashion-MNIST test images preprocessed for a model input of `size` x `size`.
public func fashionMNISTBatch(count: Int, size: Int = 32, offset: Int = 0) throws -> (input: Value, labels: [Int32]) {
    let images = try DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test").load()
    let data = try Preprocessor(images: images, preprocessing: Preprocessing(height: size, width: size))
    return data.inputBatch(Array(offset..<(offset + count))[...])
}
