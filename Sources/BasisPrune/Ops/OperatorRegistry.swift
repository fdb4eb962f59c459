/// The table from ONNX op type to the builder of its operator (tract's and tinygrad's
/// registries): adding an op is one file in Ops/ and one line here.
public enum OperatorRegistry {
    public static let builders: [String: OperatorBuilder] = [
        "Constant": { node, context throws(EngineError) in try ConstantOp(node: node, context: context) },
        "Identity": { node, _ throws(EngineError) in PassThrough() },
        "Dropout": { node, _ throws(EngineError) in PassThrough(isDropout: true, dropoutMask: node.outputs.count > 1) },
        "Conv": { node, context throws(EngineError) in try ConvOp(node: node, context: context) },
        "MaxPool": { node, _ throws(EngineError) in try PoolOp(node: node, kind: .max) },
        "AveragePool": { node, _ throws(EngineError) in try PoolOp(node: node, kind: .average) },
        "GlobalAveragePool": { node, _ throws(EngineError) in GlobalPoolOp(node: node, isMax: false) },
        "GlobalMaxPool": { node, _ throws(EngineError) in GlobalPoolOp(node: node, isMax: true) },
        "Gemm": { node, _ throws(EngineError) in GemmOp(node: node) },
        "MatMul": { node, _ throws(EngineError) in MatMulOp(node: node) },
        "BatchNormalization": { node, context throws(EngineError) in try BatchNormOp(node: node, context: context) },
        "Relu": { node, context throws(EngineError) in try ActivationOp(node: node, context: context) },
        "LeakyRelu": { node, context throws(EngineError) in try ActivationOp(node: node, context: context) },
        "Sigmoid": { node, context throws(EngineError) in try ActivationOp(node: node, context: context) },
        "HardSigmoid": { node, context throws(EngineError) in try ActivationOp(node: node, context: context) },
        "HardSwish": { node, context throws(EngineError) in try ActivationOp(node: node, context: context) },
        "Tanh": { node, context throws(EngineError) in try ActivationOp(node: node, context: context) },
        "Clip": { node, context throws(EngineError) in try ClipOp(node: node, context: context) },
        "Add": { node, _ throws(EngineError) in ArithmeticOp(node: node, op: .add) },
        "Sub": { node, _ throws(EngineError) in ArithmeticOp(node: node, op: .sub) },
        "Mul": { node, _ throws(EngineError) in ArithmeticOp(node: node, op: .mul) },
        "Div": { node, _ throws(EngineError) in ArithmeticOp(node: node, op: .div) },
        "Neg": { node, _ throws(EngineError) in NegOp(node: node) },
        "Reshape": { node, context throws(EngineError) in try ReshapeOp(node: node, context: context) },
        "Flatten": { node, context throws(EngineError) in try FlattenOp(node: node, context: context) },
        "Squeeze": { node, context throws(EngineError) in try SqueezeOp(node: node, context: context) },
        "Unsqueeze": { node, context throws(EngineError) in try UnsqueezeOp(node: node, context: context) },
        "Shape": { node, context throws(EngineError) in try ShapeOp(node: node, context: context) },
        "Transpose": { node, context throws(EngineError) in try TransposeOp(node: node, context: context) },
        "Concat": { node, context throws(EngineError) in try ConcatOp(node: node, context: context) },
        "Split": { node, context throws(EngineError) in try SplitOp(node: node, context: context) },
        "Slice": { node, context throws(EngineError) in try SliceOp(node: node, context: context) },
        "Gather": { node, context throws(EngineError) in try GatherOp(node: node, context: context) },
        "Pad": { node, context throws(EngineError) in try PadOp(node: node, context: context) },
        "ConstantOfShape": { node, context throws(EngineError) in try ConstantOfShapeOp(node: node, context: context) },
        "Cast": { node, context throws(EngineError) in try CastOp(node: node, context: context) },
        "ReduceMean": { node, context throws(EngineError) in try ReduceMeanOp(node: node, context: context) },
        "Softmax": { node, context throws(EngineError) in SoftmaxOp(node: node, context: context, logarithm: false) },
        "LogSoftmax": { node, context throws(EngineError) in SoftmaxOp(node: node, context: context, logarithm: true) },
    ]

    /// The op types the engine runs.
    public static var supportedOps: [String] { builders.keys.sorted() }
}
