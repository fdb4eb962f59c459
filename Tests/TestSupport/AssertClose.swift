import BasisPrune

/// The largest |a - b| over two float buffers of equal length (infinity if lengths differ).
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Whether `actual` matches `expected` as the ONNX backend tests judge (numpy assert_allclose:
/// |actual - expected| <= atol + rtol * |expected|, NaN equal to NaN); returns a reason if not.
public func mismatch(_ actual: Value, _ expected: Value, rtol: Double = 1e-3, atol: Double = 1e-7) -> String? {
    guard actual.dataType == expected.dataType else { return "type \(actual.dataType), expected \(expected.dataType)" }
    guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
    guard let a = actual.tensor(name: nil).doubleValues(), let e = expected.tensor(name: nil).doubleValues() else {
        return "cannot compare values of type \(actual.dataType)"
    }
    for (i, (x, y)) in zip(a, e).enumerated() {
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        if !(abs(x - y) <= atol + rtol * abs(y)) { return "element \(i): \(x), expected \(y)" }
    }
    return nil
}
