/// The sliding-window attributes shared by Conv and the pools (ONNX names and defaults), for
/// 1-D and 2-D windows. 1-D windows run as 2-D with a height of 1.
struct Window: Sendable {
    var kernel: [Int]?
    var strides: [Int]?
    var dilations: [Int]?
    var pads: [Int]?
    var autoPad: String

    init(_ node: Node) throws(EngineError) {
        kernel = node.ints("kernel_shape")
        strides = node.ints("strides")
        dilations = node.ints("dilations")
        pads = node.ints("pads")
        autoPad = node.string("auto_pad", default: "NOTSET")!
        guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
            throw EngineError(node, "unknown auto_pad '\(autoPad)'")
        }
        for (name, values) in [("strides", strides), ("dilations", dilations), ("kernel_shape", kernel)] {
            if let values, values.contains(where: { $0 < 1 }) { throw EngineError(node, "\(name) must be positive, got \(values)") }
        }
        if let pads, pads.contains(where: { $0 < 0 }) { throw EngineError(node, "negative pads \(pads)") }
    }

    /// 2-D geometry (height 1 for 1-D inputs): kernel, strides, dilations, pads (top, left,
    /// bottom, right) for an input of spatial size `spatial`.
    struct Resolved {
        var kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight: Int
    }

    func resolve(_ node: Node, spatial: [Int], kernel given: [Int], ceilMode: Bool = false) throws(EngineError) -> Resolved {
        let n = spatial.count
        guard n == 1 || n == 2 else { throw EngineError(node, "only 1-D and 2-D windows are supported, got \(n)-D") }
        let kernel = self.kernel ?? given
        let strides = self.strides ?? Array(repeating: 1, count: n)
        let dilations = self.dilations ?? Array(repeating: 1, count: n)
        var pads = self.pads ?? Array(repeating: 0, count: 2 * n)
        guard kernel.count == n, strides.count == n, dilations.count == n, pads.count == 2 * n else {
            throw EngineError(node, "kernel_shape, strides, dilations or pads do not fit \(n) spatial dims")
        }
        if autoPad != "NOTSET" {
            for i in 0..<n {
                let effective = dilations[i] * (kernel[i] - 1) + 1
                if autoPad == "VALID" {
                    pads[i] = 0
                    pads[i + n] = 0
                } else {
                    let out = (spatial[i] + strides[i] - 1) / strides[i]
                    let total = max(0, (out - 1) * strides[i] + effective - spatial[i])
                    let small = total / 2
                    pads[i] = autoPad == "SAME_UPPER" ? small : total - small
                    pads[i + n] = total - pads[i]
                }
            }
        }
        for i in 0..<n where spatial[i] + pads[i] + pads[i + n] < dilations[i] * (kernel[i] - 1) + 1 {
            throw EngineError(node, "the window is larger than the padded input \(spatial)")
        }
        if n == 1 {
            return Resolved(kh: 1, kw: kernel[0], strideH: 1, strideW: strides[0], dilationH: 1, dilationW: dilations[0],
                            padTop: 0, padLeft: pads[0], padBottom: 0, padRight: pads[1])
        }
        return Resolved(kh: kernel[0], kw: kernel[1], strideH: strides[0], strideW: strides[1], dilationH: dilations[0],
                        dilationW: dilations[1], padTop: pads[0], padLeft: pads[1], padBottom: pads[2], padRight: pads[3])
    }
}

extension Value {
    /// The value as NCHW: [N, C, L] becomes [N, C, 1, L].
    func planes(_ node: Node) throws(EngineError) -> (n: Int, c: Int, h: Int, w: Int) {
        switch shape.count {
        case 3: return (shape[0], shape[1], 1, shape[2])
        case 4: return (shape[0], shape[1], shape[2], shape[3])
        default: throw EngineError(node, "expects a 3-D or 4-D input, got shape \(shape)")
        }
    }

    /// Checks that the value is float32.
    func requireFloat(_ node: Node, _ what: String = "input") throws(EngineError) {
        guard dataType == .float else { throw EngineError(node, "\(what) of type \(dataType) is not supported (float32 only)") }
    }
}
