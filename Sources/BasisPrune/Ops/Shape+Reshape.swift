/// Reshape, Flatten, Squeeze, Unsqueeze and Shape: they change only the shape, so the output
/// shares the input's storage.

/// Reshape: the target shape is the `shape` attribute before opset 5 and input 1 from opset 5.
/// A 0 copies the input dim (unless allowzero=1, opset 14); one -1 is inferred.
struct ReshapeOp: Operator {
    let node: Node
    let attributeShape: [Int]?
    let allowZero: Bool

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        if context.opset < 5 {
            guard let shape = node.ints("shape") else { throw EngineError(node, "the shape attribute is required before opset 5") }
            attributeShape = shape
        } else {
            attributeShape = nil
        }
        allowZero = node.int("allowzero", default: 0) != 0
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        guard let target = try attributeShape != nil ? attributeShape : node.integers(inputs, 1, "shape") else {
            throw EngineError(node, "input 1 (shape) is required")
        }
        let shape = try Self.outputShape(node, input: x.shape, target: target, allowZero: allowZero)
        return [Value(dataType: x.dataType, shape: shape, storage: x.storage)]
    }

    /// The shape `target` means for an input of shape `input` (the spec's rules for 0 and -1).
    static func outputShape(_ node: Node, input: [Int], target: [Int], allowZero: Bool) throws(EngineError) -> [Int] {
        guard let count = ValueFacts.count(input) else { throw EngineError(node, "invalid input shape \(input)") }
        guard target.allSatisfy({ $0 >= -1 }), target.filter({ $0 == -1 }).count <= 1 else {
            throw EngineError(node, "target shape \(target) has a dim below -1 or more than one -1")
        }
        if allowZero, target.contains(0), target.contains(-1) {
            throw EngineError(node, "target shape \(target) has both 0 and -1 with allowzero=1")
        }
        var shape = target
        for (i, d) in target.enumerated() where d == 0 && !allowZero {
            guard i < input.count else { throw EngineError(node, "target shape \(target) copies dim \(i) of an input of rank \(input.count)") }
            shape[i] = input[i]
        }
        if let minus = shape.firstIndex(of: -1) {
            var rest = shape
            rest.remove(at: minus)
            guard let known = ValueFacts.count(rest), known > 0, count % known == 0 else {
                throw EngineError(node, "cannot reshape \(input) to \(target)")
            }
            shape[minus] = count / known
        }
        guard ValueFacts.count(shape) == count else { throw EngineError(node, "cannot reshape \(input) to \(target)") }
        return shape
    }
}

/// Flatten: to 2-D [prod(dims before axis), prod(dims from axis)]; axis in [-rank, rank], default 1.
struct FlattenOp: Operator {
    let node: Node
    let axis: Int

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        axis = node.int("axis", default: 1)!
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let rank = x.shape.count
        guard axis >= -rank, axis <= rank else { throw EngineError(node, "axis \(axis) is out of range for rank \(rank)") }
        let a = axis < 0 ? axis + rank : axis
        let shape = [x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)]
        return [Value(dataType: x.dataType, shape: shape, storage: x.storage)]
    }
}

/// Squeeze: removes the listed dims of size 1 (axes attribute before opset 13, optional input
/// 1 from 13), or every dim of size 1 when no axes are given.
struct SqueezeOp: Operator {
    let node: Node
    let opset: Int64
    let attributeAxes: [Int]?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        opset = context.opset
        attributeAxes = context.opset < 13 ? node.ints("axes") : nil
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let rank = x.shape.count
        let axes: [Int]
        if let given = try opset < 13 ? attributeAxes : node.integers(inputs, 1, "axes") {
            axes = try node.normalizedAxes(given, rank: rank)
            for a in axes where x.shape[a] != 1 {
                throw EngineError(node, "cannot squeeze axis \(a) of size \(x.shape[a]) in shape \(x.shape)")
            }
        } else {
            axes = x.shape.indices.filter { x.shape[$0] == 1 }
        }
        let shape = x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }
        return [Value(dataType: x.dataType, shape: shape, storage: x.storage)]
    }
}

/// Unsqueeze: inserts dims of size 1 at `axes` of the output (attribute before opset 13,
/// required input 1 from 13; negative axes count from the output rank).
struct UnsqueezeOp: Operator {
    let node: Node
    let opset: Int64
    let attributeAxes: [Int]?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        opset = context.opset
        if context.opset < 13 {
            guard let axes = node.ints("axes") else { throw EngineError(node, "the axes attribute is required before opset 13") }
            attributeAxes = axes
        } else {
            attributeAxes = nil
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        guard let given = try attributeAxes != nil ? attributeAxes : node.integers(inputs, 1, "axes") else {
            throw EngineError(node, "input 1 (axes) is required")
        }
        let rank = x.shape.count + given.count
        let axes = try node.normalizedAxes(given, rank: rank)
        var shape: [Int] = []
        var next = 0
        for i in 0..<rank {
            if axes.contains(i) {
                shape.append(1)
            } else {
                shape.append(x.shape[next])
                next += 1
            }
        }
        return [Value(dataType: x.dataType, shape: shape, storage: x.storage)]
    }
}

/// Shape: the input's dims as int64, sliced by start and end (opset 15; clamped to [0, rank]).
struct ShapeOp: Operator {
    let node: Node
    let start: Int
    let end: Int?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        start = node.int("start", default: 0)!
        end = node.int("end")
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let rank = x.shape.count
        func clamp(_ i: Int) -> Int { min(max(i < 0 ? i + rank : i, 0), rank) }
        let s = clamp(start), e = max(clamp(end ?? rank), s)
        return [Value(shape: [e - s], int64s: x.shape[s..<e].map { Int64($0) })]
    }
}
