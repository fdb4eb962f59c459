import BasisPrune
import Testing

/// `Optimizer`: Adam's bias-corrected first step moves each factor by the learning rate whatever
/// its gradient's size (why `--retrain-optimizer carried` exists), and an optimizer carried into
/// a model whose tensor changed length (a compacted layer) restarts that tensor's moments.
@Suite struct OptimizerTests {
    @Test func adamsFirstStepIsTheLearningRateWhateverTheGradient() {
        var adam = Optimizer(method: .adam, learningRate: 0.01)
        var p: [String: [Float]] = ["s": [1, 1, 1]]
        adam.update(&p, gradients: ["s": [1e-4, -3, 0.5]], masks: ["s": [true, true, false]])
        #expect(abs(p["s"]![0] - 0.99) < 1e-5 && abs(p["s"]![1] - 1.01) < 1e-5 && p["s"]![2] == 1)
    }

    /// A carried optimizer steps by its moment estimates: after many steps of one gradient, a
    /// step of a gradient 100 times smaller moves far less than a fresh optimizer's would.
    @Test func carriedStateScalesSmallGradients() {
        var carried = Optimizer(method: .adam, learningRate: 0.01)
        var p: [String: [Float]] = ["s": [1]]
        for _ in 0..<200 { carried.update(&p, gradients: ["s": [1]], masks: [:]) }
        var fresh = Optimizer(method: .adam, learningRate: 0.01)
        var q = p
        let before = p["s"]![0]
        carried.update(&p, gradients: ["s": [-0.01]], masks: [:])
        fresh.update(&q, gradients: ["s": [-0.01]], masks: [:])
        let carriedMove = abs(p["s"]![0] - before), freshMove = abs(q["s"]![0] - before)
        #expect(abs(freshMove - 0.01) < 1e-5)
        #expect(carriedMove < 0.01)
        // The carried momentum still points the old way: the factor keeps falling.
        #expect(p["s"]![0] < before)
    }

    @Test func aTensorOfAnotherLengthRestartsItsMoments() {
        var adam = Optimizer(method: .adam, learningRate: 0.01)
        var p: [String: [Float]] = ["a": [1, 1, 1, 1], "b": [2]]
        for _ in 0..<50 { adam.update(&p, gradients: ["a": [1, 1, 1, 1], "b": [1]], masks: [:]) }
        var shorter: [String: [Float]] = ["a": [1, 1], "b": p["b"]!]
        let b = p["b"]!
        adam.update(&shorter, gradients: ["a": [-2, 1e-4], "b": [1]], masks: [:])
        // "a" restarted: its first own step is the learning rate either way; "b" kept its state.
        #expect(abs(shorter["a"]![0] - 1.01) < 1e-5 && abs(shorter["a"]![1] - 0.99) < 1e-5)
        #expect(shorter["b"]![0] < b[0])
    }
}
