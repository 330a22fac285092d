import Foundation

typealias Float16x = SIMD16<Float>

/// Vector e^x: 2^n · e^r with n = round(x·log2 e) and r = x − n·ln2 (Cody–Waite
/// split), e^r by a degree-7 Taylor polynomial (|r| ≤ ln2/2, error < 1e-8).
/// Rounding and 2^n use bit tricks because `.rounded()` and Int conversions compile
/// to per-lane code (and conversions trap on NaN). Results below FLT_MIN flush to 0,
/// above 127.5·ln2 give +inf, NaN stays NaN.
@inline(__always)
func vexp(_ x: Float16x) -> Float16x {
    let magic = Float16x(repeating: 12_582_912)  // 1.5·2^23: t + magic rounds t to an integer
    let shifted = x * Float16x(repeating: 1.442_695_04) + magic
    let n = shifted - magic
    var r = x - n * Float16x(repeating: 0.693_359_375)
    r = r - n * Float16x(repeating: -2.121_944_4e-4)
    // The low mantissa bits of `shifted` hold n; move n + 127 into the exponent field.
    let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127
    let scale = unsafeBitCast(bits &<< 23, to: Float16x.self)
    var result = expPolynomial(r) * scale
    result.replace(with: 0, where: x .< -87.336_54)
    result.replace(with: Float.infinity, where: x .> 88.376_26)
    return result
}

/// e^r for |r| ≤ ln2/2 (a little beyond is fine): degree-7 Taylor polynomial, error < 1e-8.
@inline(__always)
func expPolynomial(_ r: Float16x) -> Float16x {
    var p = Float16x(repeating: 1.0 / 5040)
    p = p * r + Float16x(repeating: 1.0 / 720)
    p = p * r + Float16x(repeating: 1.0 / 120)
    p = p * r + Float16x(repeating: 1.0 / 24)
    p = p * r + Float16x(repeating: 1.0 / 6)
    p = p * r + Float16x(repeating: 0.5)
    p = p * r + Float16x(repeating: 1)
    return p * r + Float16x(repeating: 1)
}

/// 2^d for integer-valued d ≤ 0, exactly; d < −126 and NaN give 0.
@inline(__always)
func vpow2(_ d: Float16x) -> Float16x {
    var d = d
    d.replace(with: -127, where: .!(d .> -127))
    // d + 127 in the low mantissa bits (as in vexp), shifted into the exponent field;
    // d = −127 leaves exponent 0 and no mantissa: +0.
    let bits = unsafeBitCast(d + Float16x(repeating: 12_582_912 + 127), to: SIMD16<Int32>.self) &- 0x4B40_0000
    return unsafeBitCast(bits &<< 23, to: Float16x.self)
}

@inline(__always)
func load16(_ pointer: UnsafePointer<Float>) -> Float16x {
    UnsafeRawPointer(pointer).loadUnaligned(as: Float16x.self)
}

@inline(__always)
func store16(_ value: Float16x, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Float16x.self)
}

/// e^x for one lane, through the same vector code so scalar tails match exactly.
@inline(__always)
func sexp(_ x: Float) -> Float { vexp(Float16x(repeating: x))[0] }

/// Runs `body` over `0..<rows` split into contiguous ranges, one per task, on all cores;
/// small jobs stay on the calling thread.
func parallelRows(_ rows: Int, cols: Int, _ body: (Range<Int>) -> Void) {
    let workers = min(rows, ProcessInfo.processInfo.activeProcessorCount * 4)
    if workers <= 1 || rows * cols < 1 << 15 {
        body(0 ..< rows)
        return
    }
    // Rows are disjoint per worker, so sharing the (pointer-capturing) body is safe.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            shared.value(rows * worker / workers ..< rows * (worker + 1) / workers)
        }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
