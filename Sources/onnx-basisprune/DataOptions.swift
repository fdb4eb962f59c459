import BasisPrune

/// The data and preprocessing flags shared by `eval` and the pruning commands.
struct DataOptions {
    /// The options, declared once for every command that loads images (each reads them itself).
    static func options<Target>() -> [Option<Target>] {
        [
            Option("--data", "SPEC", "labelled images: FORMAT:PATH[,split=train|test][,range=A:B]\nFORMAT is idx (MNIST-format IDX files, gzipped or not), cifar (the CIFAR-10 binary batches) or folder (one subfolder per class of PNG and JPEG files); split defaults to train for idx and cifar; range selects image indices A to B-1 of the split, e.g.\nidx:/usr/share/datasets/fashion-mnist,split=test,range=0:5000\nA folder of images without class subfolders, or IDX images without a labels file, has no labels: only prune --loss distill trains on it"),
            Option("--input-size", "HxW", "resize images to H x W by bilinear interpolation with half-pixel centres (default: the model input's height and width)"),
            Option("--mean", "M[,M,M]", "subtracted from pixels in 0..255, one value or one per channel (default \(defaultMean))"),
            Option("--std", "S[,S,S]", "divides after the mean, one value or one per channel (default \(defaultStd)). Grey images are replicated to the model's channel count."),
        ]
    }

    static let defaultMean = "127", defaultStd = "128"

    /// Loads `--data` and builds the preprocessor for `model`'s first input.
    static func preprocessor(_ args: Arguments, model: Model, modelPath: String, specOption: String = "--data") throws(CLIError) -> Preprocessor {
        guard let specText = args.values[specOption] else { throw .usage("\(specOption) SPEC is required") }
        let spec: DataSpec
        do { spec = try DataSpec(parsing: specText) } catch { throw .usage(error.description) }
        guard let dims = imageInputDims(model) else {
            throw .usage("\(modelPath): the first graph input is not an image batch [N, C, H, W]")
        }
        guard let channels = dims[1] else { throw .usage("\(modelPath): the input's channel count is not fixed") }
        var height = dims[2], width = dims[3]
        if let size = args.values["--input-size"] {
            let hw = try parseShape(size, option: "--input-size")
            guard hw.count == 2 else { throw .usage("--input-size '\(size)' is not HxW") }
            height = hw[0]
            width = hw[1]
        }
        guard let height, let width else { throw .usage("\(modelPath): the input size is symbolic; give --input-size HxW") }
        let mean = try floats(args.values["--mean"] ?? defaultMean, option: "--mean")
        let std = try floats(args.values["--std"] ?? defaultStd, option: "--std")
        guard std.allSatisfy({ $0 != 0 }) else { throw .usage("--std must not be zero") }
        let images: LabelledImages
        do { images = try spec.load() } catch { throw .usage(error.description) }
        if !images.labelled { try allowUnlabeled(args, specOption: specOption, source: images.source) }
        if images.labelled, let classes = outputClassCount(model), let bad = images.labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw .usage("\(images.source): image \(bad) has label \(images.labels[bad]), outside the \(classes) classes (0-\(classes - 1)) of \(modelPath)'s output")
        }
        do {
            return try Preprocessor(images: images, preprocessing: Preprocessing(height: height, width: width, channels: channels, mean: mean, std: std))
        } catch { throw .usage(error.description) }
    }

    /// Unlabeled images serve `prune` only: as training images when every stage distills, and
    /// as validation and certification images unless `--certify labels` (they are then judged
    /// by agreement with the input model). Other commands measure accuracy, which needs labels.
    static func allowUnlabeled(_ args: Arguments, specOption: String, source: String) throws(CLIError) {
        let problem = "\(specOption) \(source) has no labels (no class subfolders, or no IDX labels file)"
        guard args.command == "prune", specOption != "--test-data" else {
            throw .usage("\(problem); accuracy is measured on these images, which needs labels")
        }
        // The prune command parsed these options before loading any data, so this cannot fail anew.
        let options = try PruneCommand.options(args)
        if options.certify == .labels, specOption != "--data" || args.values["--val-data"] == nil {
            throw .usage("\(problem); --certify labels needs labelled \(specOption == "--data" ? "validation images held out of it" : "images") (--certify agreement does not)")
        }
        if specOption == "--data", let (flag, loss) = options.stageLosses.first(where: { $0.loss.needsLabels }) {
            throw .usage("\(problem); \(flag) \(loss.rawValue) needs labelled training images (distill trains on unlabeled ones)")
        }
    }

    static func floats(_ text: String, option: String) throws(CLIError) -> [Float] {
        let values = text.split(separator: ",").compactMap { Float($0) }
        guard !values.isEmpty, values.count == text.split(separator: ",").count else {
            throw .usage("\(option) '\(text)' is not a number or a comma-separated list of numbers")
        }
        return values
    }
}

/// A positive integer option.
func positiveInt(_ args: Arguments, _ option: String, default value: Int) throws(CLIError) -> Int {
    guard let text = args.values[option] else { return value }
    guard let n = Int(text), n > 0 else { throw .usage("\(option) '\(text)' is not a positive integer") }
    return n
}

/// The class count of the first graph output, `[batch, classes]`, declared or found by static
/// shape inference; nil when neither knows it.
func outputClassCount(_ model: Model) -> Int? {
    guard let output = model.graph.outputs.first else { return nil }
    if let dims = output.type?.tensor?.shape, dims.count == 2, let classes = dims[1].knownSize { return classes }
    let inference = try? ShapeInference(graph: model.graph, opset: model.defaultOpsetVersion ?? 21)
    guard let shape = inference?.facts[output.name]?.shape, shape.count == 2 else { return nil }
    return shape[1]
}

/// The sizes of the first graph input's four dims (nil where symbolic), if it has rank 4.
/// (Kept out of typed-throws code: Swift 6.3's ownership verifier rejects the switch inlined there.)
func imageInputDims(_ model: Model) -> [Int?]? {
    let initializers = Set(model.graph.initializers.compactMap(\.name))
    guard let input = model.graph.inputs.first(where: { !initializers.contains($0.name) }),
          let dims = input.type?.tensor?.shape, dims.count == 4 else { return nil }
    return dims.map(\.knownSize)
}
