import IR

// ONNX Runtime's contrib operators (domain com.microsoft) that quantc writes.
//
// MatMulNBits (onnxruntime/core/graph/contrib_ops/contrib_defs.cc, docs/ContribOperators.md):
// Y = A · Wᵀ (+ bias) with W [N, K] stored block-quantized along K:
//   B           uint8 [N, k_blocks, blob_size], blob_size = block_size·bits/8; in each block the
//               codes are packed low bits first (element 2j in the low nibble of byte j for 4 bits);
//   scales      [N, k_blocks] (or the same N·k_blocks values flat), same type as A;
//   zero_points optional, uint8 [N, ceil(k_blocks·bits/8)] packed the same way along the blocks;
//               default 2^(bits−1);
//   g_idx       deprecated (not supported here);
//   bias        optional [N].
// W[n, k] = (code − zero_point) · scale, computed in float32 as DequantizeLinear does, then an
// ordinary float product: ONNX Runtime's CPU kernel with accuracy_level 0 also multiplies float A
// by the dequantized float weights (it may sum in another order, so results agree to rounding).
// accuracy_level is ignored: a model asking for 4 (A quantized to int8 per block inside ONNX
// Runtime) runs here in float32, so its results differ from ONNX Runtime's by that rounding.

extension Ops {
    static let contribMicrosoft: [OpEntry] = [
        OpEntry("MatMulNBits", domain: "com.microsoft", shape: { ctx in
            guard let a = ctx.inputTypes.first ?? nil else { return [nil] }
            let n = ctx.int("N", 0)
            guard let shape = a.shape, !shape.isEmpty else { return [TensorType(a.elementType, nil)] }
            return [TensorType(a.elementType, Array(shape.dropLast()) + [.fixed(n)])]
        }) { ctx in
            [try MatMulNBits(ctx).run(ctx)]
        },
    ]
}

/// The attributes and packed inputs of one MatMulNBits node, checked.
struct MatMulNBits {
    let k: Int, n: Int, bits: Int, blockSize: Int
    var blocks: Int { (k + blockSize - 1) / blockSize }
    var blobSize: Int { blockSize * bits / 8 }

    init(_ ctx: KernelContext) throws {
        guard let k = ctx.attribute("K")?.intValue, let n = ctx.attribute("N")?.intValue,
              let b = ctx.attribute("block_size")?.intValue else {
            throw OpError("MatMulNBits needs the attributes K, N and block_size")
        }
        self.k = Int(k)
        self.n = Int(n)
        bits = ctx.int("bits", 4)
        blockSize = Int(b)
        guard [2, 4, 8].contains(bits) else { throw OpError("MatMulNBits: bits must be 2, 4 or 8, got \(bits)") }
        guard blockSize >= 16, blockSize & (blockSize - 1) == 0 else {
            throw OpError("MatMulNBits: block_size must be a power of two of at least 16, got \(blockSize)")
        }
        guard self.k > 0, self.n > 0 else { throw OpError("MatMulNBits: K and N must be positive, got K=\(k) N=\(n)") }
        if ctx.int("weight_prepacked", 0) != 0 { throw OpError("MatMulNBits: prepacked weights (weight_prepacked) are not supported") }
    }

    /// The code of element `index` in a run of `bits`-bit values packed low bits first.
    @inline(__always)
    static func code(_ bytes: UnsafeMutableBufferPointer<UInt8>, at offset: Int, index: Int, bits: Int) -> Int {
        let bit = index * bits
        return Int(bytes[offset + bit / 8] >> UInt8(bit % 8)) & ((1 << bits) - 1)
    }

    /// W as a float [K, N] matrix (the layout MatMul's B takes).
    func dequantized(_ ctx: KernelContext) throws -> RTensor {
        let b = try ctx.input(1), scales = try ctx.input(2)
        guard b.type == .uint8, b.shape == [n, blocks, blobSize] else {
            throw OpError("MatMulNBits: B must be uint8 [\(n), \(blocks), \(blobSize)] for K=\(k), N=\(n), bits=\(bits), block_size=\(blockSize); got \(b.typeDescription)")
        }
        guard scales.count == n * blocks, scales.shape == [n, blocks] || scales.shape == [n * blocks] else {
            throw OpError("MatMulNBits: scales must have shape [\(n), \(blocks)] (or [\(n * blocks)]); got \(scales.typeDescription)")
        }
        let s = scales.floatArray()
        let zp = ctx.optionalInput(3)
        let zpStride = (blocks * bits + 7) / 8
        if let zp {
            guard zp.type == .uint8 else {
                throw OpError("MatMulNBits: only packed uint8 zero points are supported; got \(zp.typeDescription)")
            }
            guard zp.count == n * zpStride else {
                throw OpError("MatMulNBits: packed zero points must have \(n)×\(zpStride) bytes; got \(zp.typeDescription)")
            }
        }
        if let g = ctx.optionalInput(4), g.count > 0 { throw OpError("MatMulNBits: g_idx (deprecated) is not supported") }
        let codes = b.elements(UInt8.self)
        let zpBytes = zp?.elements(UInt8.self)
        let defaultZero = 1 << (bits - 1)
        let w = RTensor(type: .float32, shape: [k, n])
        let out = w.pointer(Float.self)
        for col in 0..<n {
            for blk in 0..<blocks {
                let scale = s[col * blocks + blk]
                let z = zpBytes.map { Float(Self.code($0, at: col * zpStride, index: blk, bits: bits)) } ?? Float(defaultZero)
                let base = (col * blocks + blk) * blobSize
                for j in 0..<min(blockSize, k - blk * blockSize) {
                    let q = Float(Self.code(codes, at: base, index: j, bits: bits))
                    out[(blk * blockSize + j) * n + col] = (q - z) * scale
                }
            }
        }
        return w
    }

    func run(_ ctx: KernelContext) throws -> RTensor {
        let a = try ctx.input(0)
        guard a.type == .float32 else { throw OpError("MatMulNBits: only float32 A is supported; got \(a.typeDescription)") }
        guard a.rank >= 1, a.shape.last == k else {
            throw OpError("MatMulNBits: A \(a.typeDescription) must end in K=\(k)")
        }
        let y = try Ops.matmul(a, try dequantized(ctx), threads: ctx.threads)
        if let bias = ctx.optionalInput(5) {
            guard bias.count == n else { throw OpError("MatMulNBits: bias must have \(n) values; got \(bias.typeDescription)") }
            let bv = bias.converted(to: .float32).floatArray()
            let p = y.pointer(Float.self)
            for i in 0..<y.count { p[i] += bv[i % n] }
        }
        return y
    }
}
