import Foundation

/// Adam or SGD over named float vectors; entries whose mask is false are not updated.
public struct Optimizer: Sendable {
    public enum Method: String, Sendable, Codable, CaseIterable { case adam, sgd }

    public var method: Method
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    private var step = 0
    private var m: [String: [Float]] = [:]
    private var v: [String: [Float]] = [:]
    /// The step before which a tensor's moments were (re)started, where that is not step 0:
    /// an optimizer carried into a model whose tensor has another length (a compacted layer)
    /// starts that tensor's moments afresh, with their own bias correction.
    private var restarted: [String: Int] = [:]

    public init(method: Method, learningRate: Float) {
        self.method = method
        self.learningRate = learningRate
    }

    /// One update of `parameters` by `gradients` (same names and lengths).
    public mutating func update(_ parameters: inout [String: [Float]], gradients: [String: [Float]], masks: [String: [Bool]]) {
        step += 1
        for name in parameters.keys.sorted() {
            guard let g = gradients[name], var p = parameters[name] else { continue }
            let mask = masks[name]
            switch method {
            case .sgd:
                for i in p.indices where mask?[i] ?? true { p[i] -= learningRate * g[i] }
            case .adam:
                if let known = m[name], known.count != p.count {
                    (m[name], v[name], restarted[name]) = (nil, nil, step - 1)
                }
                // Bias correction over this tensor's own steps (all of them unless restarted).
                let own = Float(step - (restarted[name] ?? 0))
                let c1 = 1 - pow(beta1, own), c2 = 1 - pow(beta2, own)
                var mi = m[name] ?? Array(repeating: 0, count: p.count)
                var vi = v[name] ?? Array(repeating: 0, count: p.count)
                for i in p.indices where mask?[i] ?? true {
                    mi[i] = beta1 * mi[i] + (1 - beta1) * g[i]
                    vi[i] = beta2 * vi[i] + (1 - beta2) * g[i] * g[i]
                    p[i] -= learningRate * (mi[i] / c1) / ((vi[i] / c2).squareRoot() + epsilon)
                }
                m[name] = mi
                v[name] = vi
            }
            parameters[name] = p
        }
    }
}
