extension Preprocessor {
    /// The images at `indices` as one float32 NCHW input value, with their labels.
    public func inputBatch(_ indices: ArraySlice<Int>) -> (input: Value, labels: [Int32]) {
        let p = preprocessing
        let input = Value(uninitialized: .float, shape: [indices.count, p.channels, p.height, p.width])
        var labels = [Int32](repeating: 0, count: indices.count)
        input.withMutableElements(as: Float.self) { x in
            labels.withUnsafeMutableBufferPointer { fillBatch(indices: indices, inputs: x.baseAddress!, labels: $0.baseAddress!) }
        }
        return (input, labels)
    }
}
