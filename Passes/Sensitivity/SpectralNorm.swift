import Interpreter

/// ‖A‖₂ of a row-major r × c matrix by power iteration on AᵀA (Golub & Van Loan,
/// Matrix Computations §8.2.1), from a fixed pseudo-random start so the result
/// is deterministic. Power iteration approaches σ_max from below; it stops when
/// the estimate changes by less than 1e-9 relative, or after `iterations`.
public enum SpectralNorm {
    public static func largestSingularValue(_ a: [Float], rows: Int, cols: Int, iterations: Int = 200) -> Double {
        guard rows > 0, cols > 0, a.count == rows * cols else { return 0 }
        var rng = SplitMix64(seed: 0x5EC7)
        var v = (0..<cols).map { _ in 0.5 + rng.unit() }
        var sigma = 0.0
        for _ in 0..<iterations {
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return 0 }
            for j in v.indices { v[j] /= norm }
            var u = [Double](repeating: 0, count: rows)
            for i in 0..<rows {
                var s = 0.0
                for j in 0..<cols { s += Double(a[i * cols + j]) * v[j] }
                u[i] = s
            }
            var next = [Double](repeating: 0, count: cols)
            for i in 0..<rows where u[i] != 0 {
                for j in 0..<cols { next[j] += Double(a[i * cols + j]) * u[i] }
            }
            let estimate = u.reduce(0) { $0 + $1 * $1 }.squareRoot()  // ‖Av‖ with ‖v‖ = 1
            v = next
            if abs(estimate - sigma) <= 1e-9 * estimate { return estimate }
            sigma = estimate
        }
        return sigma
    }
}
