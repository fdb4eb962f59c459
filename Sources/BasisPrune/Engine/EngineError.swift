/// Why the engine could not build or run a graph. One line naming the node and op.
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public var node: String
    public var opType: String
    public var reason: String
    /// Set when the error happened on another rank of a data-parallel job (which reports it):
    /// this rank only stops (`EngineError.otherRank`).
    public var failedRank: Int?

    public init(node: String, opType: String, reason: String, failedRank: Int? = nil) {
        self.node = node
        self.opType = opType
        self.reason = reason
        self.failedRank = failedRank
    }

    public init(_ node: Node, _ reason: String) {
        self.init(node: node.displayName, opType: node.opType, reason: reason)
    }

    public var description: String {
        node.isEmpty ? reason : "node '\(node)' (\(opType)): \(reason)"
    }

    /// An error about the graph as a whole (inputs, outputs).
    public static func graph(_ reason: String) -> EngineError { EngineError(node: "", opType: "", reason: reason) }
}
