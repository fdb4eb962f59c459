internal import Foundation

/// The loss of one training batch and its gradients w.r.t. the trained parameters.
public struct LossAndGradients: Sendable {
    /// Mean loss over the batch (cross-entropy, distillation or their sum: `TrainingTarget`).
    public var loss: Double
    /// Top-1 hits in the batch: against the labels, or without labels, agreement with the
    /// teacher's top-1.
    public var correct: Int
    /// d(mean loss)/d(parameter), same shape as the parameter.
    public var gradients: [String: Value]
    /// What Taylor importance is measured with: `gradients`, except with a distillation term
    /// and sampled draws, where the distillation term's gradient is that of a sampled target
    /// (`TrainingTarget.draws`).
    public var importanceGradients: [String: Value]
}

extension Executor {
    /// A forward plan with the backward sweep for a set of parameters: which steps lie on a
    /// path from a parameter to the loss, which of their input gradients are needed, and when
    /// each saved activation is released.
    struct TrainingPlan {
        var plan: Plan
        var lossSlot: Int
        var parameterSlots: [(name: String, slot: Int)]
        /// Per step: its gradient rule when it lies on a path from a parameter to the loss.
        var rules: [(any Differentiable)?]
        /// Per step: which inputs need a gradient.
        var needed: [[Bool]]
        /// Per step: slots released after the step in the forward pass (values no rule reads).
        var forwardRelease: [[Int]]
        /// Per step: saved slots released after the step's backward (their last backward use).
        var backwardRelease: [[Int]]
    }

    /// Forward pass with `parameters` replacing the initializers of the same names (the
    /// scaling factors), mean cross-entropy of the first graph output (logits [batch, classes])
    /// against `labels`, and reverse-mode gradients w.r.t. every parameter.
    public func lossAndGradients(input: Value, labels: [Int32], parameters: [String: Value]) throws(EngineError) -> LossAndGradients {
        try lossAndGradients(input: input, target: TrainingTarget(labels: labels), parameters: parameters)
    }

    /// The forward pass, then one backward sweep per seed that `seeds` makes from the logits
    /// (the first graph output): the parameter gradients of each seed, in order. Saved
    /// activations are released during the last sweep.
    func lossAndGradients(
        input: Value, parameters: [String: Value], seeds: (Value) throws(EngineError) -> LossSeeds
    ) throws(EngineError) -> (seeds: LossSeeds, gradients: [[String: Value]]) {
        guard let inputName = inputNames.first else { throw .graph("the model has no input") }
        if input.dataType == .float, let plan = oneDNNTrainingPlan(shape: input.shape, parameters: parameters) {
            return try plan.train(input, parameters: parameters, seeds: seeds)
        }
        let inputs = [inputName: input]
        let training = try trainingPlan(for: inputs, parameters: Set(parameters.keys))
        var slots = try training.plan.initialSlots(inputs, parameters: parameters)
        var timings: [String: Double]? = nil
        try forward(training.plan, &slots, release: training.forwardRelease, timings: &timings)
        guard let logits = slots[training.lossSlot] else { throw .graph("the logits were not computed") }
        let made = try seeds(logits)
        var gradients: [[String: Value]] = []
        for (k, seed) in made.seeds.enumerated() {
            gradients.append(try backward(training, &slots, seed: seed, release: k == made.seeds.count - 1))
        }
        return (made, gradients)
    }

    /// The backward sweep over `training`'s active steps from `seed` = d loss / d logits.
    private func backward(_ training: TrainingPlan, _ slots: inout [Value?], seed: Value, release: Bool) throws(EngineError) -> [String: Value] {
        let plan = training.plan
        var grads = [Value?](repeating: nil, count: plan.slotCount)
        grads[training.lossSlot] = seed
        let placeholder = Value.zeros([0])
        for index in plan.steps.indices.reversed() {
            guard let rule = training.rules[index] else { continue }
            let step = plan.steps[index]
            let outputGradients = step.outputs.map { $0 >= 0 ? grads[$0] : nil }
            if outputGradients.contains(where: { $0 != nil }) {
                let inputs = step.inputs.map { $0.flatMap { slots[$0] } }
                let outputs = step.outputs.map { $0 >= 0 ? slots[$0] ?? placeholder : placeholder }
                let inputGradients = try rule.backward(inputs: inputs, outputs: outputs, outputGradients: outputGradients, needed: training.needed[index])
                let node = graph.nodes[step.node]
                for (k, slot) in step.inputs.enumerated() where training.needed[index][k] {
                    guard let slot, k < inputGradients.count, let g = inputGradients[k] else { continue }
                    guard let x = inputs[k], g.shape == x.shape, g.dataType == .float else {
                        throw EngineError(node, "the gradient of input \(k) has shape \(g.shape), the input \(inputs[k]?.shape ?? [])")
                    }
                    grads[slot] = grads[slot].map { $0.adding(g) } ?? g
                }
            }
            for slot in step.outputs where slot >= 0 { grads[slot] = nil }
            if release { for slot in training.backwardRelease[index] { slots[slot] = nil } }
        }
        var gradients: [String: Value] = [:]
        for (name, slot) in training.parameterSlots {
            gradients[name] = grads[slot] ?? Value.zeros(plan.preset.first { $0.0 == slot }!.1.shape)
        }
        return gradients
    }

    /// Forward only, with the same parameter replacement (validation during training).
    public func run(_ inputs: [String: Value], parameters: [String: Value]) throws(EngineError) -> [String: Value] {
        let plan = try self.plan(for: inputs, parameters: Set(parameters.keys))
        var slots = try plan.initialSlots(inputs, parameters: parameters)
        var timings: [String: Double]? = nil
        try forward(plan, &slots, timings: &timings)
        return try plan.outputs(slots)
    }

    func trainingPlan(for inputs: [String: Value], parameters: Set<String>) throws(EngineError) -> TrainingPlan {
        let key = try planKey(for: inputs, parameters: parameters)
        lock.lock()
        if let training = trainingPlans[key] {
            lock.unlock()
            return training
        }
        lock.unlock()
        let plan = try self.plan(for: inputs, parameters: parameters)
        let training = try makeTrainingPlan(plan, parameters: parameters)
        lock.lock()
        trainingPlans[key] = training
        lock.unlock()
        return training
    }

    /// The backward schedule over `plan`: a step is active when one of its inputs depends on a
    /// parameter (through float values) and one of its outputs reaches the loss.
    func makeTrainingPlan(_ plan: Plan, parameters: Set<String>) throws(EngineError) -> TrainingPlan {
        guard let lossSlot = plan.outputSlots.first?.1 else { throw .graph("the model has no output") }
        var parameterSlots: [(name: String, slot: Int)] = []
        for name in parameters.sorted() {
            guard let slot = plan.constantSlots[name] else { throw .graph("parameter '\(name)' is not an initializer of the graph") }
            parameterSlots.append((name, slot))
        }
        let steps = plan.steps
        var dependent = Array(repeating: false, count: plan.slotCount)
        for (_, slot) in parameterSlots { dependent[slot] = true }
        for step in steps where step.inputs.contains(where: { $0.map { dependent[$0] } ?? false }) {
            for slot in step.outputs where slot >= 0 && (plan.dataTypes[slot] ?? .float) == .float { dependent[slot] = true }
        }
        var reaches = Array(repeating: false, count: plan.slotCount)
        reaches[lossSlot] = true
        var rules = [(any Differentiable)?](repeating: nil, count: steps.count)
        var needed = steps.map { Array(repeating: false, count: $0.inputs.count) }
        var lastBackwardUse: [Int: Int] = [:]
        for (index, step) in steps.enumerated().reversed() {
            guard step.outputs.contains(where: { $0 >= 0 && reaches[$0] }) else { continue }
            let flags = step.inputs.map { $0.map { dependent[$0] } ?? false }
            guard flags.contains(true) else { continue }
            let node = graph.nodes[step.node]
            guard let rule = (step.op ?? operators[step.node]) as? any Differentiable else {
                throw EngineError(node, "has no gradient rule, and a gradient must pass through it")
            }
            rules[index] = rule
            needed[index] = flags
            for (slot, flag) in zip(step.inputs, flags) where flag { reaches[slot!] = true }
            for slot in step.inputs.compactMap({ $0 }) + step.outputs.filter({ $0 >= 0 }) { lastBackwardUse[slot] = index }
        }
        // Values a rule reads stay until their last backward use; the rest go as in inference.
        let presetSlots = Set(plan.preset.map(\.0))
        let kept = Set(plan.outputSlots.map(\.1)).union(presetSlots)
        let forwardRelease = steps.map { $0.release.filter { lastBackwardUse[$0] == nil } }
        var backwardRelease = Array(repeating: [Int](), count: steps.count)
        for (slot, index) in lastBackwardUse where !kept.contains(slot) { backwardRelease[index].append(slot) }
        return TrainingPlan(plan: plan, lossSlot: lossSlot, parameterSlots: parameterSlots, rules: rules, needed: needed,
                            forwardRelease: forwardRelease, backwardRelease: backwardRelease)
    }
}
