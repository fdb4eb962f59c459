import BasisPrune
import Foundation

// Loads a model, splits it into basis and scaling convs and checks the split computes the same
// logits as the input on one random image: the library's own calls, from outside the package.
let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "../../fixtures/fmnist-lite0-32.onnx"
do {
    let model = try Simplify.run(try ONNXImporter.load(path: path)).model
    let summary = try GraphSummary(model: model)
    let (split, layers) = try Pipeline.split(model)
    let input = Value(shape: [1, 3, 32, 32], floats: (0..<(3 * 32 * 32)).map { Float(($0 * 7919) % 255) / 128 - 1 })
    let a = try Executor(model: model).run([model.graph.inputs[0].name: input])
    let b = try Executor(model: split).run([split.graph.inputs[0].name: input])
    let name = model.graph.outputs[0].name
    let difference = zip(a[name]!.floats, b[name]!.floats).map { abs($0 - $1) }.max() ?? 0
    print("\(path): \(summary.layers.count) layers, \(layers.count) split, largest logit difference \(difference)")
    if difference > 1e-3 { exit(1) }
} catch {
    print("consumer: \(error)")
    exit(1)
}
