@testable import BasisPrune
import Foundation
import TestSupport
import Testing

/// A training step in micro-batches (`Executor.sharedLossAndGradients`, what ranks share under
/// mpirun) computes the whole batch's loss, hits and gradients: against one pass over the
/// batch, with labels and with distillation (the draws are the batch's rows).
@Suite struct SharedStepTests {
    @Test(arguments: [TrainingLoss.labels, .distill])
    func microBatchesAddUpToTheBatch(loss: TrainingLoss) throws {
        let data = try Preprocessor(images: DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test,range=0:200").load(), preprocessing: .sharedModels)
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let (split, layers) = try Pipeline.split(model)
        let executor = try Executor(model: split)
        var state = ScalingState(layers: layers)
        // Factors away from 1 so the labels' gradients and the distillation loss are not zero.
        var random = SeededRandom(seed: 11)
        for name in state.factors.keys.sorted() { state.factors[name] = state.factors[name]!.map { $0 * Float.random(in: 0.5..<1.5, using: &random) } }
        let batch = Array(0..<100)[...]
        let teacher = loss.needsTeacher ? try TeacherOutputs(executor: try Executor(model: model), data: data, indices: Array(0..<100)) : nil
        let targets = TrainingTargets(loss: loss, teacher: teacher, seed: 3)
        let names = layers.map(\.factors)
        // The whole batch in one pass, as before micro-batches.
        let (input, labels) = data.inputBatch(batch)
        let whole = try executor.lossAndGradients(input: input, target: targets.target(batch, labels: labels), parameters: state.parameters())
        for size in [100, 32, 7] {
            let shared = try executor.sharedLossAndGradients(batch, data: data, targets: targets, parameters: state.parameters(), names: names,
                                                             importanceOnly: false, sharing: WorkSharing(microBatch: size))
            #expect(abs(shared.loss - whole.loss) <= 1e-5 * max(1, abs(whole.loss)), "micro-batch \(size): loss \(shared.loss) vs \(whole.loss)")
            #expect(shared.correct == whole.correct)
            var worst = 0.0, largest = 0.0
            for (mine, theirs) in [(shared.gradients, whole.gradients), (shared.importanceGradients, whole.importanceGradients)] {
                for name in names {
                    let a = try #require(mine[name]).floats, b = try #require(theirs[name]).floats
                    for i in b.indices {
                        worst = max(worst, Double(abs(a[i] - b[i])))
                        largest = max(largest, Double(abs(b[i])))
                    }
                }
            }
            print("--loss \(loss.rawValue), micro-batch \(size): largest gradient \(largest), worst difference \(worst)")
            #expect(largest > 1e-6)
            #expect(worst <= 1e-4 * largest)
        }
    }
}
