import IR

/// Shape rules shared by many operators.
public enum ShapeRules {
    /// Output 0 has input 0's type (elementwise unary ops).
    public static let sameAsInput: OpEntry.ShapeRule = { ctx in [ctx.inputTypes.first ?? nil] }

    /// Multidirectional broadcast of all inputs; the element type of input 0
    /// (or bool for comparisons).
    public static func broadcast(resultType: ElementType? = nil) -> OpEntry.ShapeRule {
        { ctx in
            let types = ctx.inputTypes
            guard let first = types.first ?? nil else { return [nil] }
            var dims: [Dim] = []
            for t in types {
                guard let t, let shape = t.shape, let merged = broadcast(dims, shape) else {
                    return [TensorType(resultType ?? first.elementType, nil)]
                }
                dims = merged
            }
            return [TensorType(resultType ?? first.elementType, dims)]
        }
    }

    /// Broadcasts two symbolic shapes: 1 gives way; equal names stay; other
    /// mixes of symbolic dims become unknown. Nil if fixed sizes conflict.
    public static func broadcast(_ a: [Dim], _ b: [Dim]) -> [Dim]? {
        let rank = max(a.count, b.count)
        var out: [Dim] = []
        for i in 0..<rank {
            let x = i < rank - a.count ? Dim.fixed(1) : a[i - (rank - a.count)]
            let y = i < rank - b.count ? Dim.fixed(1) : b[i - (rank - b.count)]
            switch (x, y) {
            case (.fixed(1), _): out.append(y)
            case (_, .fixed(1)): out.append(x)
            case (.fixed(let p), .fixed(let q)):
                guard p == q else { return nil }
                out.append(x)
            case (.symbolic(let p), .symbolic(let q)) where p == q: out.append(x)
            case (.fixed, .symbolic), (.fixed, .unknown): out.append(x)
            case (.symbolic, .fixed), (.unknown, .fixed): out.append(y)
            default: out.append(.unknown)
            }
        }
        return out
    }
}
