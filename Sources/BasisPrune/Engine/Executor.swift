import Foundation

/// Runs a graph on the CPU. Built once per model (operators compiled, constants loaded); for
/// each new set of input shapes it makes a plan: static shape inference folds the subgraphs
/// that depend only on shapes and constants, and every value is released after its last use.
public final class Executor: @unchecked Sendable {
    public let graph: Graph
    public let opset: Int64
    let operators: [(any Operator)?]
    let constants: [String: Value]
    /// Graph inputs that are not initializers, in order.
    public let inputNames: [String]
    public let outputNames: [String]
    private var plans: [PlanKey: Plan] = [:]
    /// Forward plans with their backward schedules, per input shapes and parameter names (Tape.swift).
    var trainingPlans: [PlanKey: TrainingPlan] = [:]
    let lock = NSLock()
    /// Which kernels run a forward pass without parameters or timings.
    public let backend: Backend
    /// oneDNN plans per input shape; nil where the graph is not covered (`DNNLForward`).
    private var dnnlPlans: [[Int]: DNNLForward?] = [:]
    /// Why the oneDNN path does not cover this graph, once a plan was tried (nil if covered).
    public private(set) var oneDNNRefusal: String?
    /// oneDNN training plans per input shape and parameter names; nil where not covered.
    private var dnnlTrainingPlans: [PlanKey: DNNLForward?] = [:]
    /// Why the oneDNN path does not cover training this graph, once tried (nil if covered).
    public private(set) var oneDNNTrainingRefusal: String?

    public enum Backend: String, Sendable, CaseIterable {
        /// oneDNN where it covers the graph (`DNNLForward`), the reference kernels elsewhere.
        case automatic
        /// The engine's own kernels only (what gradients always use).
        case reference
    }

    /// Compiles `model`. With `fuse`, BatchNormalization after a Conv or Gemm with constant
    /// weights is folded into it, and an activation whose input is read only by it and comes
    /// from a Conv runs inside the Conv's output pass.
    public init(model: Model, fuse: Bool = true, backend: Backend = .automatic) throws(EngineError) {
        self.backend = backend
        if fuse {
            do { graph = try FoldBatchNorm.run(model.graph) } catch {
                throw EngineError(node: error.node, opType: "BatchNormalization", reason: error.reason)
            }
        } else {
            graph = model.graph
        }
        opset = model.defaultOpsetVersion ?? 21
        var constants = Self.constants(graph)
        let context = BuildContext(opset: opset, constants: constants)
        var operators: [(any Operator)?] = []
        for node in graph.nodes {
            if node.domain.map({ !$0.isEmpty && $0 != "ai.onnx" }) ?? false {
                throw EngineError(node, "operators of domain '\(node.domain!)' are not supported")
            }
            guard let builder = OperatorRegistry.builders[node.opType] else {
                throw EngineError(node, "the engine cannot run \(node.opType)")
            }
            var local = context
            local.constants = constants
            let op = try builder(node, local)
            operators.append(op)
            if node.opType == "Constant", let value = try op.run([]).first, let name = node.outputs.first {
                constants[name] = value
            }
        }
        if fuse { Self.fuseActivations(graph, &operators) }
        self.operators = operators
        self.constants = constants
        inputNames = graph.inputs.map(\.name).filter { constants[$0] == nil }
        outputNames = graph.outputs.map(\.name)
    }

    /// Runs the graph; `inputs` names every graph input. Returns every graph output.
    public func run(_ inputs: [String: Value]) throws(EngineError) -> [String: Value] {
        if inputNames.count == 1, let input = inputs[inputNames[0]], input.dataType == .float, let plan = oneDNNPlan(shape: input.shape) {
            return plan.run(input)
        }
        var unused: [String: Double]? = nil
        return try run(inputs, timings: &unused)
    }

    /// The graph the oneDNN path compiles: this graph simplified (`Simplify`), so an exporter's
    /// shape arithmetic and Identity routes are gone; nil when simplification fails.
    private var simplified: Graph??
    private func simplifiedGraph() -> Graph? {
        if let known = simplified { return known }
        let model = Model(irVersion: 8, opsetImports: [OpsetImport(domain: "", version: opset)], graph: graph)
        let result = (try? Simplify.run(model))?.model.graph
        simplified = .some(result)
        return result
    }

    /// A oneDNN plan for inputs of `shape` with `parameters` in place of the initializers of
    /// the same names, not cached (the caller keeps it while the parameters hold); nil when
    /// the graph is not covered or the backend is `reference`.
    func oneDNNPlan(shape: [Int], parameters: [String: Value]) -> DNNLForward? {
        if parameters.isEmpty { return oneDNNPlan(shape: shape) }
        guard backend == .automatic, inputNames.count == 1 else { return nil }
        lock.lock()
        defer { lock.unlock() }
        return buildOneDNNPlan(shape: shape, parameters: parameters)
    }

    /// A graph's initializers by name.
    static func constants(_ graph: Graph) -> [String: Value] {
        var constants: [String: Value] = [:]
        for tensor in graph.initializers { if let name = tensor.name { constants[name] = Value(tensor) } }
        return constants
    }

    /// The oneDNN plan for inputs of `shape`, built on first use; nil when not covered.
    func oneDNNPlan(shape: [Int]) -> DNNLForward? {
        guard backend == .automatic, inputNames.count == 1 else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let known = dnnlPlans[shape] { return known }
        let plan = buildOneDNNPlan(shape: shape, parameters: [:])
        dnnlPlans[shape] = .some(plan)
        Self.trim(&dnnlPlans, keeping: shape)
        return plan
    }

    /// Bytes of batch-sized buffers the plans of a cache may hold beyond its newest plan: a
    /// cache over this keeps only the newest (a pass over images whose count is not a multiple
    /// of the batch alternates two shapes; at 32x32 both stay, at 224x224 one is rebuilt).
    static let spareCacheBytes = 256 << 20

    /// Drops every plan of `cache` but the one for `key` when together they hold more than
    /// `spareCacheBytes` of batch-sized buffers.
    static func trim<Key: Hashable>(_ cache: inout [Key: DNNLForward?], keeping key: Key) {
        let bytes = cache.values.reduce(0) { $0 + ($1?.batchBytes ?? 0) }
        guard bytes > spareCacheBytes else { return }
        for other in Array(cache.keys) where other != key && cache[other]! != nil { cache[other] = nil }
    }

    /// Releases the cached oneDNN plans and their buffers (a refusal stays known); the next
    /// pass builds what it needs again.
    public func releasePlans() {
        lock.lock()
        defer { lock.unlock() }
        dnnlPlans = dnnlPlans.filter { $0.value == nil }
        dnnlTrainingPlans = dnnlTrainingPlans.filter { $0.value == nil }
    }

    /// Bytes per image of the buffers a oneDNN plan of this graph sizes by the batch (its
    /// activations; for training with `parameters`, also the gradients of the backward sweep),
    /// measured on a plan built for one image of `imageShape` ([C, H, W]) and not kept; nil
    /// when oneDNN does not cover the graph.
    public func bytesPerImage(imageShape: [Int], training parameters: [String: Value]? = nil) -> Int? {
        guard backend == .automatic, inputNames.count == 1 else { return nil }
        lock.lock()
        defer { lock.unlock() }
        let shape = [1] + imageShape
        let parameters = parameters ?? [:]
        return (try? compileOneDNN(shape: shape, parameters: parameters, training: !parameters.isEmpty))?.batchBytes
    }

    /// The oneDNN training plan (forward and backward sweep) for inputs of `shape` and these
    /// parameters, built on first use; nil when not covered or the backend is `reference`.
    func oneDNNTrainingPlan(shape: [Int], parameters: [String: Value]) -> DNNLForward? {
        guard backend == .automatic, inputNames.count == 1, !parameters.isEmpty else { return nil }
        let key = PlanKey(shapes: shape, parameters: parameters.keys.sorted())
        lock.lock()
        defer { lock.unlock() }
        if let known = dnnlTrainingPlans[key] { return known }
        var plan: DNNLForward?
        do throws(DNNLForward.Unsupported) {
            plan = try compileOneDNN(shape: shape, parameters: parameters, training: true)
        } catch {
            oneDNNTrainingRefusal = error.description
        }
        dnnlTrainingPlans[key] = .some(plan)
        Self.trim(&dnnlTrainingPlans, keeping: key)
        return plan
    }

    /// Compiles the simplified graph with `parameters` over its initializers; on refusal
    /// records why and returns nil. The caller holds `lock`.
    private func buildOneDNNPlan(shape: [Int], parameters: [String: Value]) -> DNNLForward? {
        do throws(DNNLForward.Unsupported) {
            return try compileOneDNN(shape: shape, parameters: parameters, training: false)
        } catch {
            oneDNNRefusal = error.description
            return nil
        }
    }

    /// Compiles the simplified graph for inputs of `shape` with `parameters` over its
    /// initializers: for inference, or (`training`) with the backward sweep to `parameters`.
    /// The caller holds `lock`.
    private func compileOneDNN(shape: [Int], parameters: [String: Value], training: Bool) throws(DNNLForward.Unsupported) -> DNNLForward {
        guard let graph = simplifiedGraph() else { throw DNNLForward.Unsupported(description: "the graph could not be simplified") }
        return try DNNLForward(graph: graph, opset: opset, constants: Self.constants(graph).merging(parameters) { $1 },
                               inputName: inputNames[0], inputShape: shape, parameters: training ? Set(parameters.keys) : [])
    }

    /// Runs the graph and, when `timings` is not nil, adds the seconds each op type took.
    public func run(_ inputs: [String: Value], timings: inout [String: Double]?) throws(EngineError) -> [String: Value] {
        let plan = try self.plan(for: inputs)
        var slots = try plan.initialSlots(inputs, parameters: [:])
        try forward(plan, &slots, timings: &timings)
        return try plan.outputs(slots)
    }

    /// Runs the steps of `plan` over `slots`, releasing what each step's `release` lists (or,
    /// with `release` given, what it lists per step).
    func forward(_ plan: Plan, _ slots: inout [Value?], release: [[Int]]? = nil, timings: inout [String: Double]?) throws(EngineError) {
        for (index, step) in plan.steps.enumerated() {
            let arguments = step.inputs.map { $0.flatMap { slots[$0] } }
            let start = timings == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let results = try (step.op ?? operators[step.node]!).run(arguments)
            if timings != nil {
                timings![graph.nodes[step.node].opType, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            for (slot, value) in zip(step.outputs, results) where slot >= 0 { slots[slot] = value }
            for slot in release?[index] ?? step.release { slots[slot] = nil }
        }
    }

    static func fuseActivations(_ graph: Graph, _ operators: inout [(any Operator)?]) {
        var readers: [String: Int] = [:]
        for node in graph.nodes { for input in node.inputs { readers[input, default: 0] += 1 } }
        for output in graph.outputs { readers[output.name, default: 0] += 1 }
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for output in node.outputs { producer[output] = i } }
        for (j, node) in graph.nodes.enumerated() {
            guard let source = node.input(0), readers[source] == 1, let i = producer[source],
                  var conv = operators[i] as? ConvOp, conv.activation == .none else { continue }
            // An activation whose derivative needs its input (HardSwish) stays separate, so a
            // gradient can pass through the conv.
            if let op = operators[j] as? ActivationOp, op.activation.derivativeFollowsFromOutput {
                conv.activation = op.activation
            } else if let op = operators[j] as? ClipOp, let bounds = op.constantBounds {
                conv.activation = .clip(min: bounds.min, max: bounds.max)
            } else {
                continue
            }
            operators[i] = conv
            operators[j] = PassThrough()
        }
    }

    // MARK: planning

    struct Step {
        var node: Int
        var inputs: [Int?]
        var outputs: [Int]
        var release: [Int]
        /// This plan's version of the node's operator (a Conv with a Pad fused in), if any.
        var op: (any Operator)? = nil
    }

    struct Plan {
        var slotCount: Int
        var preset: [(Int, Value)]
        var inputSlots: [(String, Int)]
        var outputSlots: [(String, Int)]
        var steps: [Step]
        /// Slots of initializers, by name (parameters replace their values per call).
        var constantSlots: [String: Int]
        /// Element type of each slot, where static inference knows it.
        var dataTypes: [DataType?]

        /// Slots holding the constants, `parameters` in place of initializers of the same
        /// names (same shape and type), and the graph inputs.
        func initialSlots(_ inputs: [String: Value], parameters: [String: Value]) throws(EngineError) -> [Value?] {
            var slots = [Value?](repeating: nil, count: slotCount)
            for (slot, value) in preset { slots[slot] = value }
            for (name, value) in parameters {
                guard let slot = constantSlots[name], let old = slots[slot] else {
                    throw .graph("parameter '\(name)' is not an initializer of the graph")
                }
                guard old.shape == value.shape, old.dataType == value.dataType else {
                    throw .graph("parameter '\(name)' has shape \(value.shape) of \(value.dataType), the initializer \(old.shape) of \(old.dataType)")
                }
                slots[slot] = value
            }
            for (name, slot) in inputSlots {
                guard let value = inputs[name] else { throw .graph("graph input '\(name)' was not given") }
                slots[slot] = value
            }
            return slots
        }

        /// The graph outputs in `slots` by name.
        func outputs(_ slots: [Value?]) throws(EngineError) -> [String: Value] {
            var outputs: [String: Value] = [:]
            for (name, slot) in outputSlots {
                guard let value = slots[slot] else { throw .graph("graph output '\(name)' was not computed") }
                outputs[name] = value
            }
            return outputs
        }
    }

    /// Plans are made per input types and shapes and per set of parameter names.
    struct PlanKey: Hashable {
        var shapes: [Int]
        var parameters: [String]
    }

    func planKey(for inputs: [String: Value], parameters: Set<String>) throws(EngineError) -> PlanKey {
        var key: [Int] = []
        for name in inputNames {
            guard let value = inputs[name] else { throw .graph("graph input '\(name)' was not given") }
            key.append(Int(value.dataType.rawValue))
            key.append(value.shape.count)
            key.append(contentsOf: value.shape)
        }
        return PlanKey(shapes: key, parameters: parameters.sorted())
    }

    /// The plan for these inputs; nothing that reads one of `parameters` is folded.
    func plan(for inputs: [String: Value], parameters: Set<String> = []) throws(EngineError) -> Plan {
        let key = try planKey(for: inputs, parameters: parameters)
        lock.lock()
        defer { lock.unlock() }
        if let plan = plans[key] { return plan }
        let plan = try makePlan(inputShapes: inputs.mapValues(\.shape), parameters: parameters)
        plans[key] = plan
        return plan
    }

    func makePlan(inputShapes: [String: [Int]], parameters: Set<String> = []) throws(EngineError) -> Plan {
        let facts: [String: ValueFacts]
        do { facts = try ShapeInference(graph: graph, opset: opset, inputShapes: inputShapes).facts } catch {
            throw EngineError(node: error.node, opType: error.opType, reason: error.reason)
        }
        var slotOf: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slotOf[name] { return s }
            slotOf[name] = slotOf.count
            return slotOf.count - 1
        }
        var preset: [(Int, Value)] = []
        for (name, value) in constants { preset.append((slot(name), value)) }
        let inputSlots = inputNames.map { ($0, slot($0)) }
        var steps: [Step] = []
        // Values computed from a parameter change from call to call: never folded. Shape and
        // Size read only the shape of their input, which parameters do not change.
        var variable = parameters
        for (index, node) in graph.nodes.enumerated() where node.opType != "Constant" {
            let isVariable = !["Shape", "Size"].contains(node.opType) && node.inputs.contains(where: variable.contains)
            if isVariable { variable.formUnion(node.outputs) }
            // A node whose outputs static inference computed is folded into constants.
            let folded = node.outputs.filter { !$0.isEmpty }.compactMap { name in facts[name].flatMap { Self.materialize($0) }.map { (name, $0) } }
            if !isVariable, !folded.isEmpty, folded.count == node.outputs.filter({ !$0.isEmpty }).count {
                for (name, value) in folded { preset.append((slot(name), value)) }
                continue
            }
            let ins = node.inputs.map { $0.isEmpty ? nil : slotOf[$0] }
            for (name, s) in zip(node.inputs, ins) where !name.isEmpty && s == nil {
                throw EngineError(node, "input '\(name)' is not computed before this node")
            }
            steps.append(Step(node: index, inputs: ins, outputs: node.outputs.map { $0.isEmpty ? -1 : slot($0) }, release: []))
        }
        fusePads(&steps, preset: preset, slotOf: slotOf)
        // Release each computed value after its last reader (graph outputs are kept).
        let kept = Set(graph.outputs.compactMap { slotOf[$0.name] }).union(preset.map(\.0))
        var lastUse: [Int: Int] = [:]
        for (i, step) in steps.enumerated() { for s in step.inputs.compactMap({ $0 }) { lastUse[s] = i } }
        for (s, i) in lastUse where !kept.contains(s) { steps[i].release.append(s) }
        let outputSlots = try graph.outputs.map { (output) throws(EngineError) -> (String, Int) in
            guard let s = slotOf[output.name] else { throw .graph("graph output '\(output.name)' is computed by no node") }
            return (output.name, s)
        }
        var dataTypes = [DataType?](repeating: nil, count: slotOf.count)
        for (name, s) in slotOf { dataTypes[s] = facts[name]?.dataType ?? constants[name]?.dataType }
        let constantSlots = Dictionary(uniqueKeysWithValues: graph.initializers.compactMap { t in t.name.flatMap { n in slotOf[n].map { (n, $0) } } })
        return Plan(slotCount: slotOf.count, preset: preset, inputSlots: inputSlots, outputSlots: outputSlots, steps: steps,
                    constantSlots: constantSlots, dataTypes: dataTypes)
    }

    /// Removes each zero-valued constant Pad of spatial axes whose only reader is a Conv with
    /// explicit pads, and lets that Conv pad instead (PyTorch exports TF-style SAME padding so).
    func fusePads(_ steps: inout [Step], preset: [(Int, Value)], slotOf: [String: Int]) {
        let constants = Dictionary(preset, uniquingKeysWith: { a, _ in a })
        let reads = graph.readCounts
        var removed = Set<Int>()
        for (index, step) in steps.enumerated() {
            let pad = graph.nodes[step.node]
            guard pad.opType == "Pad", opset >= 11, pad.string("mode", default: "constant") == "constant",
                  pad.input(3) == nil, let output = pad.outputs.first, reads[output] == 1,
                  let padsSlot = step.inputs.count > 1 ? step.inputs[1] : nil, let pads = constants[padsSlot]?.integers(),
                  pads.count == 8, pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0, pads.allSatisfy({ $0 >= 0 }) else { continue }
            if let valueSlot = step.inputs.count > 2 ? step.inputs[2] : nil {
                guard let value = constants[valueSlot], value.dataType == .float, value.floats == [0] else { continue }
            }
            guard let consumer = steps.indices.first(where: { steps[$0].inputs.first == step.outputs.first }),
                  var conv = (steps[consumer].op ?? operators[steps[consumer].node]) as? ConvOp,
                  conv.window.autoPad == "NOTSET", conv.extraPads == nil else { continue }
            conv.extraPads = [pads[2], pads[3], pads[6], pads[7]]
            steps[consumer].op = conv
            steps[consumer].inputs[0] = step.inputs[0]
            removed.insert(index)
        }
        steps = steps.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// The value static inference found, in the engine's storage.
    static func materialize(_ fact: ValueFacts) -> Value? {
        guard let values = fact.values, let type = fact.dataType, values.count == fact.elementCount else { return nil }
        let value = Value(uninitialized: type, shape: fact.shape)
        func fill<T>(_: T.Type, _ convert: (Double) -> T) {
            value.withMutableElements(as: T.self) { out in for (i, v) in values.enumerated() { out[i] = convert(v) } }
        }
        switch type {
        case .float: fill(Float.self) { Float($0) }
        case .double: fill(Double.self) { $0 }
        case .int64: fill(Int64.self) { Int64(Int(saturating: $0)) }
        case .int32: fill(Int32.self) { Int32(truncatingIfNeeded: Int(saturating: $0)) }
        case .bool, .uint8: fill(UInt8.self) { UInt8(truncatingIfNeeded: Int(saturating: $0)) }
        default: return nil
        }
        return value
    }
}
