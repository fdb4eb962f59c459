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

/// `ScalingFactorTrainer.pass(importanceImages:)`: importance comes from the pass's last images
/// only, and whether a batch measures it does not change what the factors learn.
@Suite struct ImportanceImagesTests {
    @Test func importanceIsMeasuredOnTheLastImagesOnly() throws {
        let data = try Preprocessor(images: DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),split=test,range=0:300").load(), preprocessing: .sharedModels)
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let (split, layers) = try Pipeline.split(model)
        let teacher = try TeacherOutputs(executor: try Executor(model: model), data: data, indices: Array(0..<300))
        let trainer = ScalingFactorTrainer(executor: try Executor(model: split), data: data, batchSize: 100,
                                           targets: TrainingTargets(loss: .distill, teacher: teacher, seed: 5))
        func pass(_ indices: [Int], _ importanceImages: Int?) throws -> (factors: [String: [Float]], importance: [String: [Double]]) {
            var state = ScalingState(layers: layers)
            var optimizer: Optimizer? = Optimizer(method: .adam, learningRate: 0.01)
            let importance = try trainer.pass(indices, state: &state, optimizer: &optimizer, phase: "test", importanceImages: importanceImages).importance
            return (state.factors, importance)
        }
        let all = try pass(Array(0..<300), nil)
        let last = try pass(Array(0..<300), 100)  // the last batch of three
        let none = try pass(Array(0..<300), 0)
        let firstTwo = try pass(Array(0..<200), nil)
        // The factors follow the exact gradient whatever is measured.
        #expect(last.factors == all.factors)
        #expect(none.factors == all.factors)
        #expect(all.factors != ScalingState(layers: layers).factors)
        // The last batch's importance is what the whole pass adds to the first two batches'.
        var largest = 0.0, worst = 0.0
        for layer in layers {
            let a = try #require(all.importance[layer.factors]), b = try #require(last.importance[layer.factors])
            let d = try #require(firstTwo.importance[layer.factors]), z = try #require(none.importance[layer.factors])
            #expect(z.allSatisfy { $0 == 0 })
            for i in a.indices {
                largest = max(largest, b[i])
                worst = max(worst, abs(b[i] - (a[i] - d[i])))
            }
        }
        print("importance of the last batch: largest \(largest), worst difference from the whole pass minus the first two batches \(worst)")
        #expect(largest > 0)
        #expect(worst <= 1e-9 * largest)
    }
}
