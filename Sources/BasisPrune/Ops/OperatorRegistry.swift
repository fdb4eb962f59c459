/// The table from ONNX op type to the builder of its operator (tract's and tinygrad's
/// registries): adding an op is one file in Ops/ and one line here.
public enum OperatorRegistry {
    public static let builders: [String: OperatorBuilder] = [
        "Constant": { node, context throws(EngineError) in try ConstantOp(node: node, context: context) },
        "Identity": { node, _ throws(EngineError) in PassThrough() },
        "Dropout": { node, _ throws(EngineError) in PassThrough(dropoutMask: node.outputs.count > 1) },
    ]

    /// The op types the engine runs.
    public static var supportedOps: [String] { builders.keys.sorted() }
}
