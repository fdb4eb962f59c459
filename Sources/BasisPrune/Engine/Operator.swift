/// An operator compiled from a node: its attributes are read (with the spec's names and
/// defaults) and validated once, when the executor is built.
public protocol Operator: Sendable {
    /// The outputs for `inputs` (nil for an omitted optional input), one per node output.
    func run(_ inputs: [Value?]) throws(EngineError) -> [Value]
}

/// What an operator builder knows beyond the node: the opset and the graph's constants.
public struct BuildContext: Sendable {
    public var opset: Int64
    /// Values of initializers and Constant outputs, by name.
    public var constants: [String: Value]

    /// The value of the node's input `index` when it is a constant.
    public func constant(_ node: Node, _ index: Int) -> Value? {
        node.input(index).flatMap { constants[$0] }
    }
}

/// Builds an operator from a node.
public typealias OperatorBuilder = @Sendable (Node, BuildContext) throws(EngineError) -> any Operator

/// Checks and unwrapping shared by the operators.
extension Node {
    /// The required input `index`.
    func required(_ inputs: [Value?], _ index: Int) throws(EngineError) -> Value {
        guard index < inputs.count, let value = inputs[index] else {
            throw EngineError(self, "input \(index) is required")
        }
        return value
    }
}
