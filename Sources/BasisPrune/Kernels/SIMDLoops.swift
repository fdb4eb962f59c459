/// The vector loops every elementwise kernel goes through: SIMD8 over the body, one padded
/// SIMD8 for the tail. Outputs may alias inputs exactly (same pointer), never partially.
enum SIMDLoops {
    typealias V = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
    }

    @inline(__always)
    static func loadTail(_ p: UnsafePointer<Float>, _ i: Int, _ n: Int) -> V {
        var v = V()
        for j in 0..<n { v[j] = p[i + j] }
        return v
    }

    @inline(__always)
    static func storeTail(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
        for j in 0..<n { p[i + j] = v[j] }
    }

    /// `y[i] = f(x[i])`.
    @inline(__always)
    static func map(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
        _ f: (V) -> V
    ) {
        var i = 0
        while i + 8 <= count {
            store(f(load(x, i)), y, i)
            i += 8
        }
        if i < count { storeTail(f(loadTail(x, i, count - i)), y, i, count - i) }
    }

    /// `out[i] = f(a[i], b[i])`.
    @inline(__always)
    static func zip(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        _ count: Int, _ f: (V, V) -> V
    ) {
        var i = 0
        while i + 8 <= count {
            store(f(load(a, i), load(b, i)), out, i)
            i += 8
        }
        if i < count {
            let r = count - i
            storeTail(f(loadTail(a, i, r), loadTail(b, i, r)), out, i, r)
        }
    }

    /// `out[i] = f(a[i], b[i], c[i])`.
    @inline(__always)
    static func zip3(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ count: Int, _ f: (V, V, V) -> V
    ) {
        var i = 0
        while i + 8 <= count {
            store(f(load(a, i), load(b, i), load(c, i)), out, i)
            i += 8
        }
        if i < count {
            let r = count - i
            storeTail(f(loadTail(a, i, r), loadTail(b, i, r), loadTail(c, i, r)), out, i, r)
        }
    }

    /// Sum of `a[i] * b[i]` (or of `a[i]` when `b` is nil), accumulated in 8 lanes of Float
    /// then Double across lanes.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, _ count: Int) -> Double {
        var acc = V()
        var i = 0
        if let b {
            while i + 8 <= count {
                acc += load(a, i) * load(b, i)  // addProduct is lane-by-lane, much slower
                i += 8
            }
        } else {
            while i + 8 <= count {
                acc += load(a, i)
                i += 8
            }
        }
        var total = 0.0
        for j in 0..<8 { total += Double(acc[j]) }
        while i < count {
            total += Double(a[i]) * Double(b?[i] ?? 1)
            i += 1
        }
        return total
    }
}
