import BasisPrune
import Foundation
import TestSupport
import Testing

/// `T^2 * mean KL(softmax(teacher / T) || softmax(student / T))` in double precision.
func distillationLoss(student: [Float], teacher: [Float], classes: Int, temperature t: Double) -> Double {
    var total = 0.0
    for r in 0..<(student.count / classes) {
        func logSoftmax(_ x: [Float]) -> [Double] {
            let z = x[r * classes..<(r + 1) * classes].map { Double($0) / t }
            let m = z.max()!
            let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
            return z.map { $0 - lse }
        }
        let logP = logSoftmax(teacher), logQ = logSoftmax(student)
        for j in 0..<classes { total += exp(logP[j]) * (logP[j] - logQ[j]) }
    }
    return t * t * total / Double(student.count / classes)
}

/// The distillation loss of `Softmax.distillation` and of the engine's `TrainingTarget`:
/// gradients against finite differences, the sampled-target gradient's mean, and the sweeps.
@Suite struct DistillationTests {
    @Test(arguments: [1.0, 4.0, 20.0])
    func kernelGradientMatchesFiniteDifferences(temperature: Double) {
        var random = SeededRandom(seed: 3)
        let rows = 3, classes = 5
        let student = (0..<(rows * classes)).map { _ in Float.random(in: -6..<6, using: &random) }
        let teacher = (0..<(rows * classes)).map { _ in Float.random(in: -6..<6, using: &random) }
        var gradient = [Float](repeating: 0, count: rows * classes)
        let loss = student.withUnsafeBufferPointer { s in
            teacher.withUnsafeBufferPointer { t in
                Softmax.distillation(student: s.baseAddress!, teacher: t.baseAddress!, rows: rows, cols: classes, temperature: temperature,
                                     gradient: &gradient)
            }
        }
        let reference = distillationLoss(student: student, teacher: teacher, classes: classes, temperature: temperature)
        #expect(abs(Double(loss) - reference) <= 1e-5 * max(1, reference))
        var worst = 0.0
        for i in student.indices {
            var plus = student, minus = student
            let h: Float = 1e-2
            plus[i] += h
            minus[i] -= h
            let numeric = (distillationLoss(student: plus, teacher: teacher, classes: classes, temperature: temperature)
                - distillationLoss(student: minus, teacher: teacher, classes: classes, temperature: temperature)) / Double(2 * h)
            worst = max(worst, abs(numeric - Double(gradient[i])) / max(abs(numeric), 1e-3))
        }
        print("distillation T=\(temperature): loss \(loss), worst relative gradient error \(worst)")
        #expect(worst < 1e-3)
        // The student equal to the teacher: loss and gradient zero.
        var atTeacher = gradient
        let zero = teacher.withUnsafeBufferPointer { t in
            Softmax.distillation(student: t.baseAddress!, teacher: t.baseAddress!, rows: rows, cols: classes, temperature: temperature,
                                 gradient: &atTeacher)
        }
        #expect(abs(zero) < 1e-6 && atTeacher.allSatisfy { abs($0) < 1e-7 })
    }

    /// Averaged over many draws the sampled-target gradient is the exact one; at the teacher its
    /// second moment is `T^2 (diag(p) - p p^T) / rows^2` (the loss's Hessian, scaled).
    @Test func sampledGradientHasTheExactMeanAndTheHessianAsSecondMoment() {
        let classes = 4, t = 2.0
        let student: [Float] = [1, -0.5, 2, 0.3], teacher: [Float] = [0.2, 0.1, 1.5, -1]
        var exact = [Float](repeating: 0, count: classes)
        var mean = [Double](repeating: 0, count: classes), secondMoment = [Double](repeating: 0, count: classes)
        var random = SeededRandom(seed: 5)
        let n = 40_000
        for k in 0..<(2 * n) {
            var draw = [Double(random.next() >> 11) * 0x1p-53]
            var sampled = [Float](repeating: 0, count: classes)
            let s = k < n ? student : teacher
            _ = s.withUnsafeBufferPointer { sp in
                teacher.withUnsafeBufferPointer { tp in
                    Softmax.distillation(student: sp.baseAddress!, teacher: tp.baseAddress!, rows: 1, cols: classes, temperature: t,
                                         gradient: &exact, draws: &draw, sampledGradient: &sampled)
                }
            }
            for j in 0..<classes {
                if k < n { mean[j] += Double(sampled[j]) / Double(n) } else { secondMoment[j] += Double(sampled[j] * sampled[j]) / Double(n) }
            }
            if k == n - 1 { for j in 0..<classes { #expect(abs(mean[j] - Double(exact[j])) < 0.02 * t, "class \(j)") } }
        }
        let z = teacher.map { Double($0) / t }, m = z.max()!
        let e = z.map { exp($0 - m) }, p = e.map { $0 / e.reduce(0, +) }
        for j in 0..<classes { #expect(abs(secondMoment[j] - t * t * p[j] * (1 - p[j])) < 0.03 * t * t, "class \(j)") }
    }

    /// Through a small real graph (the gradient tests' conv case): the engine's distillation
    /// gradients w.r.t. the factors match central finite differences of the double-precision
    /// loss, alone and added to cross-entropy; the second sweep gives the same exact gradients
    /// as one, and its importance gradients equal an importance-only call.
    @Test(arguments: [false, true])
    func engineGradientMatchesFiniteDifferences(withLabels: Bool) throws {
        let c = GradientTests.cases[0]
        let (model, parameters) = GradientTests.model(c, seed: 7)
        var random = SeededRandom(seed: 11)
        let input = Value(shape: [2, c.channels, 6, 6], floats: (0..<(2 * c.channels * 36)).map { _ in Float.random(in: -2..<2, using: &random) })
        let labels: [Int32] = [2, 0]
        let executor = try Executor(model: model)
        // A teacher that differs from the student: the same graph with other factors.
        let teacherParameters = parameters.mapValues { v in Value(shape: v.shape, floats: v.floats.enumerated().map { $1 * (1 + 0.3 * Float($0 % 3 - 1)) }) }
        let teacher = try #require(try executor.run(["x": input], parameters: teacherParameters)["logits"])
        let t = 3.0
        func loss(_ p: [String: Value]) throws -> Double {
            let z = try #require(try executor.run(["x": input], parameters: p)["logits"])
            return distillationLoss(student: z.floats, teacher: teacher.floats, classes: 3, temperature: t) + (withLabels ? crossEntropy(z, labels) : 0)
        }
        let target = TrainingTarget(labels: withLabels ? labels : nil, teacher: teacher, temperature: t)
        let result = try executor.lossAndGradients(input: input, target: target, parameters: parameters)
        #expect(abs(result.loss - (try loss(parameters))) < 1e-5 * max(1, result.loss))
        var worst = 0.0
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
            let gradient = try #require(result.gradients[name]).floats
            let floor = max(1e-4, 0.1 * Double(gradient.map(abs).max() ?? 0))
            for i in 0..<value.count {
                var floats = value.floats
                let h = Float(1e-3) * max(abs(floats[i]), 0.1)
                func at(_ delta: Float) throws -> Double {
                    floats[i] = value.floats[i] + delta
                    var changed = parameters
                    changed[name] = Value(shape: value.shape, floats: floats)
                    return try loss(changed)
                }
                let numeric = (try at(h) - at(-h)) / (2 * Double(h))
                worst = max(worst, abs(numeric - Double(gradient[i])) / max(abs(numeric), abs(Double(gradient[i])), floor))
            }
        }
        print("distillation through \(c) (labels \(withLabels)): loss \(result.loss), worst relative error \(worst)")
        #expect(worst < 1e-2)

        var sampledTarget = target
        sampledTarget.draws = [0.25, 0.9]
        let both = try executor.lossAndGradients(input: input, target: sampledTarget, parameters: parameters)
        let importanceOnly = try executor.lossAndGradients(input: input, target: sampledTarget, parameters: parameters, importanceOnly: true)
        for name in parameters.keys {
            #expect(both.gradients[name]!.floats == result.gradients[name]!.floats)
            #expect(both.importanceGradients[name]!.floats == importanceOnly.importanceGradients[name]!.floats)
            #expect(importanceOnly.gradients[name]!.floats == importanceOnly.importanceGradients[name]!.floats)
            #expect(both.importanceGradients[name]!.floats != both.gradients[name]!.floats)
        }
        #expect(result.importanceGradients["s"]!.floats == result.gradients["s"]!.floats)
    }

    /// Labels only through the target API is the cross-entropy path, bit for bit.
    @Test func labelsTargetIsCrossEntropy() throws {
        let (model, parameters) = GradientTests.model(GradientTests.cases[1], seed: 2)
        let input = Value(shape: [2, 4, 6, 6], floats: (0..<288).map { Float($0 % 17) / 9 - 1 })
        let executor = try Executor(model: model)
        let a = try executor.lossAndGradients(input: input, labels: [1, 2], parameters: parameters)
        let b = try executor.lossAndGradients(input: input, target: TrainingTarget(labels: [1, 2], draws: [0.5, 0.5]), parameters: parameters)
        #expect(a.loss == b.loss && a.correct == b.correct)
        for name in parameters.keys { #expect(a.gradients[name]!.floats == b.importanceGradients[name]!.floats) }
    }

    /// The split fmnist model at unit factors is its own teacher: the distillation loss and the
    /// exact gradient vanish (to float32 rounding), the sampled-target gradient does not, and
    /// the teacher's logits come back per image index.
    @Test func splitModelAtUnitFactorsIsItsTeacher() throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let (split, layers) = try BasisSplit.run(FoldBatchNorm.run(model.graph))
        var splitModel = model
        splitModel.graph = split
        let images = try DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test,range=0:40").load()
        let data = try Preprocessor(images: images, preprocessing: Preprocessing(height: 32, width: 32))
        let teacher = try TeacherOutputs(executor: Executor(model: model), data: data, indices: Array(8..<40), batchSize: 16)
        #expect(throws: EngineError.self) { try teacher.logits([3]) }
        let batch = Array(8..<24)[...]
        let (input, labels) = data.inputBatch(batch)
        let direct = try #require(try Executor(model: model).run(["input": input])["logits"])
        #expect(try teacher.logits(batch).floats == direct.floats)
        var parameters: [String: Value] = [:]
        for layer in layers { parameters[layer.factors] = Value(shape: split.initializersByName[layer.factors]!.dims, floats: Array(repeating: 1, count: layer.rank)) }
        let targets = TrainingTargets(loss: .distill, temperature: 4, teacher: teacher, seed: 1)
        let target = try targets.target(batch, labels: labels)
        #expect(target.labels == nil && target.draws?.count == 16)
        #expect(try targets.target(batch, labels: labels).draws == target.draws)
        let result = try Executor(model: splitModel).lossAndGradients(input: input, target: target, parameters: parameters)
        let exact = result.gradients.values.map { $0.floats.map(abs).max()! }.max()!
        let sampled = result.importanceGradients.values.map { $0.floats.map(abs).max()! }.max()!
        print("split model as its own teacher: loss \(result.loss), largest exact gradient \(exact), largest sampled-target gradient \(sampled)")
        #expect(result.loss < 1e-6 && result.correct == 16)
        #expect(sampled > 1000 * exact)
    }
}
