import BasisPrune
import Foundation

/// Best wall time in seconds of `reps` calls of `body`, after one warm-up call.
func bestTime(reps: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<reps {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    for i in 0..<count { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
    return p
}

func row(_ name: String, flops: Double, seconds: Double) {
    print(
        name.padding(toLength: 44, withPad: " ", startingAt: 0)
            + String(format: "%9.2f ms %9.1f GFLOP/s", seconds * 1e3, flops / seconds / 1e9))
}

/// The repository's fixture for an input size: the ImageNet Lite0 at 224, the Fashion-MNIST one
/// otherwise.
func fixturePath(size: Int) -> String {
    let file = size == 224 ? "efficientnet-lite0-imagenet.onnx" : "fmnist-lite0-32.onnx"
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../fixtures/" + file).standardizedFileURL.path
}

// MARK: - engine profile (bench profile MODEL SIZE BATCH)
if CommandLine.arguments.count >= 5, CommandLine.arguments[1] == "profile" {
    let model = try ONNXImporter.load(path: CommandLine.arguments[2])
    let size = Int(CommandLine.arguments[3])!, n = Int(CommandLine.arguments[4])!
    let executor = try Executor(model: model)
    let input = Value(shape: [n, 3, size, size], floats: (0..<(n * 3 * size * size)).map { Float($0 % 255) / 128 - 1 })
    var timings: [String: Double]? = [:]
    _ = try executor.run(["input": input])
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<5 { _ = try executor.run(["input": input], timings: &timings) }
    let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / 5
    print(String(format: "%.1f ms per batch of %d, %.0f img/s", total * 1e3, n, Double(n) / total))
    for (op, t) in timings!.sorted(by: { $0.value > $1.value }) { print(String(format: "  %-20@ %8.2f ms", op, t / 5 * 1e3)) }
    exit(0)
}

// MARK: - oneDNN path against the reference kernels (bench backends MODEL SIZE BATCH)
if CommandLine.arguments.count >= 5, CommandLine.arguments[1] == "backends" {
    let model = try ONNXImporter.load(path: CommandLine.arguments[2])
    let size = Int(CommandLine.arguments[3])!, n = Int(CommandLine.arguments[4])!
    let input = Value(shape: [n, 3, size, size], floats: (0..<(n * 3 * size * size)).map { Float($0 % 255) / 128 - 1 })
    var results: [[Float]] = []
    for backend in Executor.Backend.allCases {
        let executor = try Executor(model: model, backend: backend)
        var out: [String: Value] = [:]
        let t = bestTime(reps: 5) { out = try! executor.run([executor.inputNames[0]: input]) }
        results.append(out[executor.outputNames[0]]!.floats)
        print(String(format: "%@: %.2f ms per batch of %d, %.0f img/s", backend.rawValue, t * 1e3, n, Double(n) / t)
              + (executor.oneDNNRefusal.map { " (oneDNN refused: \($0))" } ?? ""))
    }
    let scale = results[1].map(abs).max()!
    print(String(format: "max |difference| %.3g (largest |logit| %.3g)", zip(results[0], results[1]).map { abs($0 - $1) }.max()!, scale))
    exit(0)
}

// MARK: - training step (bench train [batch] [size])
/// Forward + backward of a split model w.r.t. every scaling factor, images per second, on
/// oneDNN and on the reference kernels, and the peak resident memory after the oneDNN steps:
/// fmnist-lite0-32 at size 32, efficientnet-lite0 at 224.
if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "train" {
    let batch = CommandLine.arguments.count >= 3 ? Int(CommandLine.arguments[2]) ?? 128 : 128
    let size = CommandLine.arguments.count >= 4 ? Int(CommandLine.arguments[3]) ?? 32 : 32
    // A model path as the fourth argument (e.g. ConvNeXt-Tiny), else the fixture for the size.
    let path = CommandLine.arguments.count >= 5 ? CommandLine.arguments[4] : fixturePath(size: size)
    let file = (path as NSString).lastPathComponent
    let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: path)).model)
    let factors = model.graph.initializersByName
    var parameters: [String: Value] = [:]
    for layer in layers { parameters[layer.factors] = Value(factors[layer.factors]!) }
    let input = Value(shape: [batch, 3, size, size], floats: (0..<(batch * 3 * size * size)).map { Float($0 % 255) / 128 - 1 })
    let labels = (0..<batch).map { Int32($0 % 10) }
    var line = "split \(file), \(layers.count) scaling-factor tensors, \(size)x\(size), batch \(batch), forward+backward:"
    for backend in Executor.Backend.allCases {
        let executor = try Executor(model: model, backend: backend)
        let step = bestTime(reps: backend == .automatic ? 10 : 3) { _ = try! executor.lossAndGradients(input: input, labels: labels, parameters: parameters) }
        line += String(format: " %@ %.1f ms (%.0f img/s)", backend == .automatic ? "oneDNN" : "reference", step * 1e3, Double(batch) / step)
        if backend == .automatic {
            if let refusal = executor.oneDNNTrainingRefusal { line += " [oneDNN refused: \(refusal)]" }
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            line += String(format: ", peak memory %.2f GiB;", Double(usage.ru_maxrss) / 1_048_576)
        }
    }
    print(line)
    exit(0)
}

// MARK: - compacted split (bench compact SHARE|REPORT MODE [batch] [size])
/// A training step of the split model with bases removed (factors 0), run masked (the full
/// split) and compacted (`CompactSplit`, MODE exact or all): step times, and whether the loss
/// and the kept factors' gradients are the same bits. SHARE: every layer keeps that share of
/// its bases (pseudo-random ones, rounded to blocks of 8); REPORT: a job's JSON report, each
/// layer keeping the share of its rank it kept there (layers it does not name keep all).
if CommandLine.arguments.count >= 4, CommandLine.arguments[1] == "compact", let mode = CompactSplit.Mode(rawValue: CommandLine.arguments[3]) {
    let batch = CommandLine.arguments.count >= 5 ? Int(CommandLine.arguments[4]) ?? 128 : 128
    let size = CommandLine.arguments.count >= 6 ? Int(CommandLine.arguments[5]) ?? 32 : 32
    let path = fixturePath(size: size)
    let file = (path as NSString).lastPathComponent
    let (model, layers) = try Pipeline.split(try Simplify.run(try ONNXImporter.load(path: path)).model)
    var shares: [String: Double] = [:]
    let uniform = Double(CommandLine.arguments[2])
    if uniform == nil {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[2]))) as? [String: Any]
        for l in json?["layers"] as? [[String: Any]] ?? [] {
            if let name = l["name"] as? String, let k = l["kept"] as? Double, let r = l["rank"] as? Double { shares[name] = k / r }
        }
    }
    var state = ScalingState(layers: layers)
    var random = SeededRandom(seed: 7)
    for layer in layers {
        let share = uniform ?? shares[layer.name] ?? 1
        let keptCount = share >= 1 ? layer.rank : min(layer.rank, max(8, Int((Double(layer.rank) * share / 8).rounded()) * 8))
        let order = (0..<layer.rank).shuffled(using: &random)
        for i in order.dropFirst(keptCount) { state.kept[layer.factors]![i] = false }
        for i in 0..<layer.rank { state.factors[layer.factors]![i] = 0.5 + Float(i % 7) / 7 }
    }
    let input = Value(shape: [batch, 3, size, size], floats: (0..<(batch * 3 * size * size)).map { Float($0 % 255) / 128 - 1 })
    let labels = (0..<batch).map { Int32($0 % 10) }
    let full = try Executor(model: model)
    let built = DispatchTime.now().uptimeNanoseconds
    let compact = CompactSplit(split: model, layers: layers, state: state, compacting: mode.compacts)
    let small = try Executor(model: compact.model)
    let fullParameters = state.parameters(), smallParameters = compact.state(state).parameters()
    _ = try small.lossAndGradients(input: input, labels: labels, parameters: smallParameters)
    let firstStep = Double(DispatchTime.now().uptimeNanoseconds - built) / 1e9
    var a: LossAndGradients?, b: LossAndGradients?
    let tFull = bestTime(reps: 5) { a = try! full.lossAndGradients(input: input, labels: labels, parameters: fullParameters) }
    let tSmall = bestTime(reps: 5) { b = try! small.lossAndGradients(input: input, labels: labels, parameters: smallParameters) }
    var differing = 0, compared = 0
    for layer in layers {
        let g = a!.gradients[layer.factors]!.floats, h = b!.gradients[layer.factors]!.floats
        for (j, i) in compact.keptIndices[layer.factors]!.enumerated() where state.kept[layer.factors]![i] {
            compared += 1
            if g[i].bitPattern != h[j].bitPattern { differing += 1 }
        }
    }
    let removed = layers.filter { state.kept[$0.factors]!.contains(false) }.count
    let compacted = zip(layers, compact.layers).filter { $0.rank != $1.rank }.count
    print(String(format: "split %@ %dx%d batch %d, %d of %d layers with bases removed, %d compacted (%@): masked %.1f ms (%.0f img/s), compacted %.1f ms (%.0f img/s), %.2fx (compacting, compiling and the first step %.0f ms); loss %@; %d of %d kept factors' gradients differ in some bit",
                 file, size, size, batch, removed, layers.count, compacted, mode.rawValue, tFull * 1e3, Double(batch) / tFull, tSmall * 1e3,
                 Double(batch) / tSmall, tFull / tSmall, firstStep * 1e3,
                 a!.loss.bitPattern == b!.loss.bitPattern ? "the same bits" : String(format: "differs (%.9g vs %.9g)", a!.loss, b!.loss), differing, compared))
    exit(0)
}

// MARK: - engine against onnxruntime (bench engine [seconds] [rounds])
/// Images per second of the engine on a random batch: best of timed runs for `seconds`.
func engineThroughput(_ executor: Executor, size: Int, batch: Int, seconds: Double) throws -> Double {
    let input = Value(shape: [batch, 3, size, size], floats: (0..<(batch * 3 * size * size)).map { Float($0 % 255) / 128 - 1 })
    _ = try executor.run(["input": input])
    var best = Double.infinity, runs = 0
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    while DispatchTime.now().uptimeNanoseconds < end || runs < 3 {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try executor.run(["input": input])
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        runs += 1
    }
    return Double(batch) / best
}

func onnxruntimeThroughput(model: String, size: Int, batch: Int, seconds: Double) throws -> Double {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ort_throughput.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, model, "\(size)", "\(batch)", "\(seconds)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan
}

if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "engine" {
    let seconds = CommandLine.arguments.count >= 3 ? Double(CommandLine.arguments[2]) ?? 3 : 3
    let rounds = CommandLine.arguments.count >= 4 ? Int(CommandLine.arguments[3]) ?? 5 : 5
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../fixtures").standardizedFileURL.path
    let models = [
        ("fmnist-lite0-32", fixtures + "/fmnist-lite0-32.onnx", 32),
        ("efficientnet-lite0-imagenet", fixtures + "/efficientnet-lite0-imagenet.onnx", 224),
    ].filter { FileManager.default.fileExists(atPath: $0.1) }
    // Both run the clean graph: the model after our `simplify` (padding inside the Convs, as
    // onnxslim writes it), saved for onnxruntime.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-engine-\(getpid())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    print("images/s of the simplified models, best of runs over \(seconds) s each, \(rounds) interleaved rounds, medians; 2 threads for both; same machine, same run")
    print("model                         input    batch   engine (oneDNN)  reference kernels  onnxruntime   ratio")
    for (name, path, size) in models {
        let simplified = try Simplify.run(ONNXImporter.load(path: path)).model
        let clean = directory + "/\(name).onnx"
        try ONNXExporter.write(simplified, to: clean)
        let executor = try Executor(model: simplified), reference = try Executor(model: simplified, backend: .reference)
        for batch in [1, 32, 256] where size == 32 || batch <= 32 {
            // Interleaved rounds (engine, then onnxruntime), medians: this shared machine's
            // speed drifts within a minute, so one best-of per side would compare two moments.
            var ours: [Double] = [], theirs: [Double] = [], ratios: [Double] = []
            for _ in 0..<rounds {
                ours.append(try engineThroughput(executor, size: size, batch: batch, seconds: seconds))
                theirs.append(try onnxruntimeThroughput(model: clean, size: size, batch: batch, seconds: seconds))
                ratios.append(ours.last! / theirs.last!)
            }
            let kernels = try engineThroughput(reference, size: size, batch: batch, seconds: seconds)
            func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
            print(String(format: "%@ %3dx%-3d %6d %16.1f %18.1f %12.1f %7.2fx  (rounds: %@)", name.padding(toLength: 29, withPad: " ", startingAt: 0), size, size,
                         batch, median(ours), kernels, median(theirs), median(ratios), ratios.map { String(format: "%.2f", $0) }.joined(separator: " "))
                  + (executor.oneDNNRefusal.map { "  (oneDNN refused: \($0))" } ?? ""))
        }
    }
    exit(0)
}

print("GEMM threads: \(GEMM.threadCount)")

do {
    let n = 1024
    let a = buffer(n * n), b = buffer(n * n), c = buffer(n * n)
    let t = bestTime(reps: 10) {
        GEMM.multiply(
            transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b, ldb: n,
            beta: 0, c: c, ldc: n)
    }
    row("sgemm 1024^3", flops: 2 * Double(n * n * n), seconds: t)
}

let batch = 256
let layers: [(String, ConvGeometry)] = [
    ("stem 3x3/2 3->32 @32x32", ConvGeometry(
        n: batch, cin: 3, h: 32, w: 32, cout: 32, kh: 3, kw: 3, strideH: 2, strideW: 2,
        padTop: 0, padLeft: 0, padBottom: 1, padRight: 1)),
    ("depthwise 3x3 32 @16x16", ConvGeometry(
        n: batch, cin: 32, h: 16, w: 16, cout: 32, kh: 3, kw: 3,
        padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 32)),
    ("pointwise 1x1 32->16 @16x16", ConvGeometry(
        n: batch, cin: 32, h: 16, w: 16, cout: 16, kh: 1, kw: 1)),
    ("pointwise 1x1 16->96 @16x16", ConvGeometry(
        n: batch, cin: 16, h: 16, w: 16, cout: 96, kh: 1, kw: 1)),
    ("depthwise 3x3/2 96 @16x16", ConvGeometry(
        n: batch, cin: 96, h: 16, w: 16, cout: 96, kh: 3, kw: 3, strideH: 2, strideW: 2,
        padTop: 0, padLeft: 0, padBottom: 1, padRight: 1, groups: 96)),
    ("depthwise 3x3 96 @8x8", ConvGeometry(
        n: batch, cin: 96, h: 8, w: 8, cout: 96, kh: 3, kw: 3,
        padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 96)),
]

/// `bench [substring]` times only the layers whose name contains it (sgemm always runs).
let filter = CommandLine.arguments.dropFirst().first
for (name, g) in layers where filter.map({ name.contains($0) }) ?? true {
    let x = buffer(g.inputCount), w = buffer(g.weightCount), bias = buffer(g.cout)
    let y = buffer(g.outputCount)
    let scratch = buffer(max(ConvForward.scratchCount(g), ConvBackward.scratchCount(g)))
    let flops = 2 * Double(g.macs)
    let forward = bestTime(reps: 10) {
        ConvForward.run(
            g, input: x, weight: w, bias: bias, output: y, activation: .clip(min: 0, max: 6),
            scratch: scratch)
    }
    row("fwd+bias+relu6 " + name, flops: flops, seconds: forward)
    let backward = bestTime(reps: 10) {
        ConvBackward.gradInput(g, gradOutput: y, weight: w, gradInput: x, scratch: scratch)
    }
    row("bwd " + name, flops: flops, seconds: backward)
    for p in [x, w, bias, y, scratch] { p.deallocate() }
}
