extension ChannelDependency {
    /// Every Conv, Gemm and MatMul of `graph` (the graph this analysis was made of) none of
    /// whose output channels may be removed, with why, in graph order. A depthwise conv inside
    /// a removable space is not listed: its channels go with the filters that make them.
    public func unprunableLayers(_ graph: Graph) -> [(node: Node, reason: String)] {
        graph.nodes.compactMap { node in
            guard ["Conv", "Gemm", "MatMul"].contains(node.opType) else { return nil }
            guard let output = node.outputs.first, let n = spaceOf[output] else {
                return (node, "its output has no channel axis the channel analysis follows")
            }
            if let blocked = spaces[n].blocked { return (node, blocked) }
            if fixedChannels[n] == spaces[n].channels {
                return (node, "its channels are joined (through Concat) with channels that cannot be removed")
            }
            return nil
        }
    }
}
