@testable import BasisPrune
import Testing

/// Edge cases of the data-movement, cast and softmax operators that the ONNX node tests do not
/// reach: extreme Slice bounds, Reshape's 0 and -1, negative pads, negative indices, the
/// attribute forms of old opsets, and malformed attributes (an EngineError naming the node).
@Suite struct DataMovementTests {
    /// Builds `op` as the registry does and runs it once.
    func run(
        _ op: String, opset: Int64 = 21, _ attributes: [Attribute], _ inputs: [Value?], outputs: Int = 1
    ) throws -> [Value] {
        let node = Node(
            name: "n", opType: op, inputs: inputs.indices.map { inputs[$0] == nil ? "" : "x\($0)" },
            outputs: (0..<outputs).map { "y\($0)" }, attributes: attributes)
        let builder = try #require(OperatorRegistry.builders[op])
        return try builder(node, BuildContext(opset: opset, constants: [:])).run(inputs)
    }

    func run(_ op: String, opset: Int64 = 21, _ inputs: [Value?], outputs: Int = 1) throws -> [Value] {
        try run(op, opset: opset, [], inputs, outputs: outputs)
    }

    func ints(_ v: [Int64], _ shape: [Int]? = nil) -> Value { Value(shape: shape ?? [v.count], int64s: v) }
    func int32s(_ v: [Int32], _ shape: [Int]) -> Value { Value(dataType: .int32, shape: shape, storage: TensorStorage(values: v)) }
    func int64s(_ v: Value) -> [Int64] { v.withElements(as: Int64.self) { Array($0) } }
    func attribute(_ name: String, _ ints: [Int]) -> Attribute { Attribute(name: name, value: .ints(ints.map(Int64.init))) }
    func attribute(_ name: String, _ int: Int) -> Attribute { Attribute(name: name, value: .int(Int64(int))) }

    /// The error `body` throws, which must be an EngineError naming node "n".
    func engineError(_ body: () throws -> Void) -> EngineError? {
        do {
            try body()
            return nil
        } catch let error as EngineError {
            #expect(error.node == "n")
            #expect(error.description.hasPrefix("node 'n' ("))
            return error
        } catch {
            Issue.record("not an EngineError: \(error)")
            return nil
        }
    }

    // MARK: Slice

    @Test func sliceExtremeEndsAndNegativeSteps() throws {
        let x = ints(Array(0..<10))
        func slice(_ s: Int64, _ e: Int64, _ step: Int64) throws -> [Int64] {
            int64s(try run("Slice", [x, ints([s]), ints([e]), ints([0]), ints([step])])[0])
        }
        #expect(try slice(2, .max, 1) == [2, 3, 4, 5, 6, 7, 8, 9])
        #expect(try slice(-1, .min, -1) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
        #expect(try slice(.max, .min, -3) == [9, 6, 3, 0])
        #expect(try slice(8, 1, -3) == [8, 5, 2])
        #expect(try slice(.min, .max, 4) == [0, 4, 8])
        #expect(try slice(5, 5, 1) == [])
        #expect(try slice(3, 7, -1) == [])
        #expect(try slice(-100, 100, .max) == [0])
        #expect(try slice(100, -100, .min) == [9])
    }

    @Test func sliceColumnsBackwardsAndOpset1Attributes() throws {
        let x = ints(Array(0..<12), [3, 4])
        let cols = try run("Slice", [x, ints([.max]), ints([.min]), ints([-1]), ints([-2])])[0]
        #expect(cols.shape == [3, 2])
        #expect(int64s(cols) == [3, 1, 7, 5, 11, 9])
        let old = try run("Slice", opset: 1, [attribute("starts", [1, 1]), attribute("ends", [1000, -1]), attribute("axes", [0, 1])], [x])[0]
        #expect(old.shape == [2, 2])
        #expect(int64s(old) == [5, 6, 9, 10])
        let huge = try run("Slice", [x, ints([1, .max]), ints([.max, .min]), ints([0, 1]), ints([.max, .min])])[0]
        #expect(int64s(huge) == [7])
    }

    /// Through the executor, so that static shape inference also sees the extreme constants.
    @Test func sliceWithExtremeConstantsThroughTheExecutor() throws {
        let constants = [("starts", [Int64]([1, .max])), ("ends", [.max, .min]), ("axes", [0, 1]), ("steps", [.max, .min])]
        let initializers = constants.map { Tensor(name: $0.0, dataType: .int64, dims: [2], storage: TensorStorage(values: $0.1)) }
        let type = TypeInfo(tensor: TypeInfo.TensorType(elementType: DataType.float.rawValue, shape: nil))
        let graph = Graph(
            name: "g", nodes: [Node(name: "n", opType: "Slice", inputs: ["x", "starts", "ends", "axes", "steps"], outputs: ["y"])],
            initializers: initializers, inputs: [ValueInfo(name: "x", type: type)], outputs: [ValueInfo(name: "y", type: nil)])
        let executor = try Executor(model: Model(irVersion: 8, opsetImports: [OpsetImport(domain: "", version: 13)], graph: graph))
        let y = try #require(try executor.run(["x": Value(shape: [3, 4], floats: (0..<12).map(Float.init))])["y"])
        #expect(y.shape == [1, 1])
        #expect(y.floats == [7])
    }

    @Test func sliceRejectsZeroStepAndBadAxes() {
        let x = ints(Array(0..<4))
        #expect(engineError { _ = try run("Slice", [x, ints([0]), ints([4]), ints([0]), ints([0])]) } != nil)
        #expect(engineError { _ = try run("Slice", [x, ints([0]), ints([4]), ints([1])]) } != nil)
        #expect(engineError { _ = try run("Slice", [x, ints([0, 0]), ints([4])]) } != nil)
    }

    // MARK: Reshape and friends

    @Test func reshapeZeroAndMinusOne() throws {
        let x = ints(Array(0..<24), [2, 3, 4])
        #expect(try run("Reshape", [x, ints([0, -1])])[0].shape == [2, 12])
        #expect(try run("Reshape", [x, ints([-1, 0, 2])])[0].shape == [4, 3, 2])
        #expect(try run("Reshape", opset: 1, [attribute("shape", [4, -1])], [x])[0].shape == [4, 6])
        let shared = try run("Reshape", [x, ints([24])])[0]
        #expect(shared.storage === x.storage)
        // allowzero=1: a 0 is a real zero-size dim.
        let empty = ints([], [0, 3])
        #expect(try run("Reshape", [attribute("allowzero", 1)], [empty, ints([3, 0])])[0].shape == [3, 0])
        #expect(engineError { _ = try run("Reshape", [empty, ints([3, 0])]) } != nil)
        #expect(engineError { _ = try run("Reshape", [attribute("allowzero", 1)], [x, ints([0, -1])]) } != nil)
        #expect(engineError { _ = try run("Reshape", [x, ints([-1, -1])]) } != nil)
        #expect(engineError { _ = try run("Reshape", [x, ints([5, -1])]) } != nil)
        #expect(engineError { _ = try run("Reshape", [x, ints([0, 0, 0, 0])]) } != nil)
    }

    @Test func squeezeUnsqueezeAttributeAndInputForms() throws {
        let x = ints(Array(0..<6), [1, 2, 1, 3])
        #expect(try run("Squeeze", opset: 11, [attribute("axes", [-2])], [x])[0].shape == [1, 2, 3])
        #expect(try run("Squeeze", [x, ints([0])])[0].shape == [2, 1, 3])
        #expect(try run("Squeeze", [x])[0].shape == [2, 3])
        #expect(engineError { _ = try run("Squeeze", [x, ints([1])]) } != nil)
        #expect(try run("Unsqueeze", opset: 11, [attribute("axes", [0, -1])], [x])[0].shape == [1, 1, 2, 1, 3, 1])
        #expect(try run("Unsqueeze", [x, ints([5, 1])])[0].shape == [1, 1, 2, 1, 3, 1])
        #expect(engineError { _ = try run("Unsqueeze", [x, ints([1, 1])]) } != nil)
        #expect(engineError { _ = try run("Unsqueeze", [x, ints([6])]) } != nil)
    }

    @Test func flattenAndShape() throws {
        let x = ints(Array(0..<24), [2, 3, 4])
        #expect(try run("Flatten", [attribute("axis", -1)], [x])[0].shape == [6, 4])
        #expect(try run("Flatten", [attribute("axis", 3)], [x])[0].shape == [24, 1])
        #expect(engineError { _ = try run("Flatten", [attribute("axis", 4)], [x]) } != nil)
        #expect(int64s(try run("Shape", [attribute("start", -2), attribute("end", 100)], [x])[0]) == [3, 4])
        #expect(int64s(try run("Shape", [attribute("start", 2), attribute("end", 1)], [x])[0]) == [])
    }

    // MARK: Transpose

    @Test(arguments: [[0, 2, 3, 1], [0, 3, 1, 2], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 3, 2]])
    func transposeMatchesIndexArithmetic(perm: [Int]) throws {
        let shape = [2, 3, 40, 35]
        let count = shape.reduce(1, *)
        for type in [DataType.uint8, .float16, .float, .double] {
            let size = type.bitWidth / 8
            let bytes = (0..<count * size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
            let x = Value(dataType: type, shape: shape, storage: TensorStorage(values: bytes))
            let y = try run("Transpose", [attribute("perm", perm)], [x])[0]
            #expect(y.shape == perm.map { shape[$0] })
            let strides = rowMajorStrides(shape)
            let got = y.storage.withUnsafeBytes { Array($0.prefix(count * size)) }
            var expected: [UInt8] = []
            for flat in 0..<count {
                var rest = flat, offset = 0
                for axis in (0..<4).reversed() {
                    offset += (rest % y.shape[axis]) * strides[perm[axis]]
                    rest /= y.shape[axis]
                }
                expected += bytes[offset * size..<(offset + 1) * size]
            }
            #expect(got == expected, "perm \(perm), type \(type)")
        }
    }

    @Test func transposeRejectsBadPerm() {
        let x = ints(Array(0..<6), [2, 3])
        #expect(engineError { _ = try run("Transpose", [attribute("perm", [0, 0])], [x]) }?.reason.contains("permutation") == true)
        #expect(engineError { _ = try run("Transpose", [attribute("perm", [2, 0, 1])], [x]) }?.reason.contains("rank") == true)
    }

    // MARK: Gather

    @Test func gatherNegativeAndScalarIndices() throws {
        let data = ints(Array(0..<6), [3, 2])
        let rows = try run("Gather", [data, ints([-1, 0])])[0]
        #expect(rows.shape == [2, 2])
        #expect(int64s(rows) == [4, 5, 0, 1])
        let column = try run("Gather", [attribute("axis", -1)], [data, int32s([-2], [])])[0]
        #expect(column.shape == [3])
        #expect(int64s(column) == [0, 2, 4])
        #expect(engineError { _ = try run("Gather", [data, ints([3])]) }?.reason.contains("out of range") == true)
        #expect(engineError { _ = try run("Gather", [data, ints([-4])]) } != nil)
        #expect(engineError { _ = try run("Gather", [attribute("axis", 2)], [data, ints([0])]) }?.reason.contains("axis") == true)
    }

    // MARK: Pad

    @Test func padNegativePadsInEveryMode() throws {
        let x = Value(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        // Axis 0: +0 before, +1 after; axis 1: -1 before (crop), +1 after.
        let pads = ints([0, -1, 1, 1])
        func pad(_ mode: String, opset: Int64 = 21) throws -> Value {
            try run("Pad", opset: opset, [Attribute(name: "mode", value: .string(Array(mode.utf8)))], [x, pads])[0]
        }
        #expect(try pad("constant").shape == [3, 3])
        #expect(try pad("constant").floats == [2, 3, 0, 5, 6, 0, 0, 0, 0])
        #expect(try pad("reflect").floats == [2, 3, 2, 5, 6, 5, 2, 3, 2])
        #expect(try pad("edge").floats == [2, 3, 3, 5, 6, 6, 5, 6, 6])
        #expect(try pad("wrap").floats == [2, 3, 1, 5, 6, 4, 2, 3, 1])
        #expect(engineError { _ = try pad("wrap", opset: 18) } != nil)
        let filled = try run("Pad", [x, pads, Value(shape: [], floats: [7])])[0]
        #expect(filled.floats == [2, 3, 7, 5, 6, 7, 7, 7, 7])
        // Opset 2 attributes; axes input from opset 18.
        let old = try run("Pad", opset: 2, [attribute("pads", [0, -2, 0, 0]), Attribute(name: "value", value: .float(9))], [x])[0]
        #expect(old.floats == [3, 6])
        let onAxis = try run("Pad", [x, ints([1, -3]), nil, ints([-1])])[0]
        #expect(onAxis.shape == [2, 1])
        #expect(onAxis.floats == [0, 0])
        #expect(engineError { _ = try run("Pad", [x, ints([0, -4, 0, 0])]) } != nil)
        #expect(engineError { _ = try run("Pad", [x, ints([0, 0, 0])]) } != nil)
        #expect(engineError { _ = try run("Pad", [x, ints([0, .max, 0, .max])]) } != nil)
    }

    // MARK: Split, Concat, ConstantOfShape

    @Test func splitForms() throws {
        let x = ints(Array(0..<7))
        let uneven = try run("Split", opset: 18, [attribute("num_outputs", 3)], [x], outputs: 3)
        #expect(uneven.map(int64s) == [[0, 1, 2], [3, 4, 5], [6]])
        let old = try run("Split", opset: 11, [attribute("split", [2, 5])], [x], outputs: 2)
        #expect(old.map(\.shape) == [[2], [5]])
        let input = try run("Split", [x, ints([0, 7])], outputs: 2)
        #expect(input.map(int64s) == [[], Array(0..<7)])
        #expect(engineError { _ = try run("Split", opset: 13, [x], outputs: 2) } != nil)
        #expect(engineError { _ = try run("Split", [x, ints([3, 3])], outputs: 2) } != nil)
    }

    @Test func concatChecksShapes() throws {
        let a = ints([1, 2], [1, 2]), b = ints([3, 4, 5, 6], [2, 2])
        #expect(int64s(try run("Concat", [attribute("axis", -2)], [a, b])[0]) == [1, 2, 3, 4, 5, 6])
        #expect(engineError { _ = try run("Concat", [attribute("axis", 1)], [a, b]) } != nil)
        #expect(engineError { _ = try run("Concat", [a, b]) } != nil)
    }

    @Test func constantOfShapeDefaultsToFloatZero() throws {
        let y = try run("ConstantOfShape", [ints([2, 3])])[0]
        #expect(y.dataType == .float)
        #expect(y.floats == Array(repeating: 0, count: 6))
        #expect(engineError { _ = try run("ConstantOfShape", [ints([2, -3])]) } != nil)
    }

    // MARK: Cast, ReduceMean, Softmax

    @Test func castTruncatesTowardZeroAndMapsNonZeroToTrue() throws {
        let x = Value(shape: [6], floats: [-2.7, -0.5, 0, 0.4, 2.9, .nan])
        let to = { (type: DataType) in Attribute(name: "to", value: .int(Int64(type.rawValue))) }
        #expect(try run("Cast", [to(.int32)], [x])[0].withElements(as: Int32.self) { Array($0) } == [-2, 0, 0, 0, 2, 0])
        #expect(try run("Cast", [to(.bool)], [x])[0].withElements(as: UInt8.self) { Array($0) } == [1, 1, 0, 1, 1, 1])
        let big = ints([.max, -1])
        #expect(try run("Cast", [to(.uint64)], [big])[0].withElements(as: UInt64.self) { Array($0) } == [UInt64(Int64.max), .max])
        #expect(try run("Cast", [to(.float16)], [x])[0].withElements(as: Float16.self) { Array($0.prefix(2)) } == [-2.7, -0.5])
        #expect(engineError { _ = try run("Cast", [to(.string)], [x]) }?.reason == "Cast to STRING is not supported")
        #expect(engineError { _ = try run("Cast", [to(.float)], [Value(dataType: .bfloat16, shape: [1], storage: TensorStorage(byteCount: 2))]) }?.reason == "Cast from BFLOAT16 is not supported")
    }

    @Test func reduceMeanAxesForms() throws {
        let x = Value(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        #expect(try run("ReduceMean", opset: 13, [attribute("axes", [-1]), attribute("keepdims", 0)], [x])[0].floats == [2, 5])
        let columns = try run("ReduceMean", [x, ints([0])])[0]
        #expect(columns.shape == [1, 3])
        #expect(columns.floats == [2.5, 3.5, 4.5])
        #expect(try run("ReduceMean", [x])[0].floats == [3.5])
        #expect(try run("ReduceMean", [attribute("noop_with_empty_axes", 1)], [x, ints([])])[0].shape == [2, 3])
        #expect(engineError { _ = try run("ReduceMean", [x, ints([2])]) } != nil)
    }

    @Test func softmaxCoercesTo2DBeforeOpset13() throws {
        let x = Value(shape: [1, 2, 2], floats: [0, 0, 0, 0])
        // Opset 11, axis 1: one row of four; opset 13, axis 1: two columns of two.
        #expect(try run("Softmax", opset: 11, [attribute("axis", 1)], [x])[0].floats == [0.25, 0.25, 0.25, 0.25])
        #expect(try run("Softmax", opset: 13, [attribute("axis", 1)], [x])[0].floats == [0.5, 0.5, 0.5, 0.5])
        let large = Value(shape: [2], floats: [10_000, 10_000])
        #expect(try run("LogSoftmax", [large])[0].floats.map { abs($0 + 0.693_147_2) < 1e-6 } == [true, true])
        #expect(engineError { _ = try run("Softmax", [attribute("axis", 3)], [x]) } != nil)
    }
}
