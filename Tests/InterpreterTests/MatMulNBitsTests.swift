import IR
import Interpreter
import XCTest

/// com.microsoft MatMulNBits against the same weights written the standard way:
/// uint4 [N, K] blocked DequantizeLinear (opset 21) and Gemm with transB=1.
final class MatMulNBitsTests: XCTestCase {
    /// Runs one graph of `nodes` reading input "a" and writing "y".
    func run(_ nodes: [Node], a: RTensor, initializers: [Tensor]) throws -> RTensor {
        var g = Graph(name: "g", inputs: [ValueInfo(name: "a", type: nil)], outputs: [ValueInfo(name: "y", type: nil)], nodes: nodes)
        for t in initializers { g.initializers[t.name] = t }
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 21), OpsetImport(domain: "com.microsoft", version: 1)], graph: g)
        return try Interpreter(model: model, threads: 2).run(inputs: ["a": a])["y"]!
    }

    /// K = 40 (blocks of 16: the last one holds 8 values), N = 3, three blocks per column (odd:
    /// the packed zero points end in a half-used byte), asymmetric codes, a bias, A of rank 3.
    func testKernelMatchesBlockedDequantizeLinearAndGemm() throws {
        let k = 40, n = 3, block = 16, blocks = 3
        var state: UInt64 = 0x1234_5678
        func next(_ m: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) % m }
        let codes = (0..<(n * k)).map { _ in next(16) }                       // W[n][k], row-major
        let zeros = (0..<(n * blocks)).map { _ in next(16) }
        let scales = (0..<(n * blocks)).map { _ in Float(next(1000) + 1) / 4096 }
        let bias = (0..<n).map { _ in Float(next(200)) / 100 - 1 }

        // MatMulNBits' B: per column, per block, 8 bytes; element 2j of a block in the low nibble of byte j.
        var b = [UInt8](repeating: 0, count: n * blocks * block / 2)
        for col in 0..<n {
            for kk in 0..<k {
                let blk = kk / block, j = kk % block
                b[(col * blocks + blk) * (block / 2) + j / 2] |= UInt8(codes[col * k + kk]) << (j % 2 == 0 ? 0 : 4)
            }
        }
        // Zero points: per column ceil(3/2) = 2 bytes, block 2m in the low nibble of byte m.
        var zp = [UInt8](repeating: 0, count: n * 2)
        for col in 0..<n {
            for blk in 0..<blocks { zp[col * 2 + blk / 2] |= UInt8(zeros[col * blocks + blk]) << (blk % 2 == 0 ? 0 : 4) }
        }
        let a = RTensor(floats: LinearKit.random(2 * 5 * k, seed: 7), shape: [2, 5, k])
        let nbits = try run(
            [Node(name: "q", opType: "MatMulNBits", domain: "com.microsoft", inputs: ["a", "B", "s", "z", "", "bias"], outputs: ["y"],
                  attributes: [LinearKit.int("K", k), LinearKit.int("N", n), LinearKit.int("bits", 4), LinearKit.int("block_size", block)])],
            a: a, initializers: [Tensor(.uint8, shape: [n, blocks, block / 2], values: b, name: "B"),
                                 Tensor(floats: scales, shape: [n, blocks], name: "s"),
                                 Tensor(.uint8, shape: [n, 2], values: zp, name: "z"),
                                 Tensor(floats: bias, shape: [n], name: "bias")])
        XCTAssertEqual(nbits.shape, [2, 5, n])

        // The same weights as uint4 [N, K] with block_size 16 along axis 1, then Gemm(A, Wᵀ) + bias.
        func uint4(_ values: [Int], shape: [Int], name: String) -> Tensor {
            Tensor(elementType: .uint4, shape: shape, data: .bytes(ByteBuffer(copying: Nibbles.pack(values))), name: name)
        }
        let reference = try run(
            [Node(name: "dq", opType: "DequantizeLinear", inputs: ["W", "s", "z"], outputs: ["w"],
                  attributes: [LinearKit.int("axis", 1), LinearKit.int("block_size", block)]),
             Node(name: "flat", opType: "Reshape", inputs: ["a", "shape"], outputs: ["a2"]),
             Node(name: "gemm", opType: "Gemm", inputs: ["a2", "w", "bias"], outputs: ["y2"], attributes: [LinearKit.int("transB", 1)]),
             Node(name: "back", opType: "Reshape", inputs: ["y2", "outShape"], outputs: ["y"])],
            a: a, initializers: [uint4(codes, shape: [n, k], name: "W"), Tensor(floats: scales, shape: [n, blocks], name: "s"),
                                 uint4(zeros, shape: [n, blocks], name: "z"), Tensor(floats: bias, shape: [n], name: "bias"),
                                 Tensor(.int64, shape: [2], values: [Int64(10), Int64(k)], name: "shape"),
                                 Tensor(.int64, shape: [3], values: [Int64(2), 5, Int64(n)], name: "outShape")])
        LinearKit.assertClose(nbits.array(Float.self), reference.array(Float.self), tolerance: 1e-5)

        // Without zero points every block's zero point is 8.
        let symmetric = try run(
            [Node(name: "q", opType: "MatMulNBits", domain: "com.microsoft", inputs: ["a", "B", "s"], outputs: ["y"],
                  attributes: [LinearKit.int("K", k), LinearKit.int("N", n), LinearKit.int("block_size", block)])],
            a: a, initializers: [Tensor(.uint8, shape: [n, blocks, block / 2], values: b, name: "B"),
                                 Tensor(floats: scales, shape: [n * blocks], name: "s")])
        let av = a.array(Float.self)
        let want = (0..<(10 * n)).map { i -> Float in
            let row = i / n, col = i % n
            return (0..<k).reduce(Float(0)) { acc, kk in
                acc + av[row * k + kk] * Float(codes[col * k + kk] - 8) * scales[col * blocks + kk / block]
            }
        }
        LinearKit.assertClose(symmetric.array(Float.self), want, tolerance: 1e-4)
    }

    func testBadShapesAndAttributesAreNamed() throws {
        let a = RTensor(floats: [Float](repeating: 1, count: 32), shape: [1, 32])
        func attempt(_ attrs: [Attribute], bShape: [Int]) -> String {
            let count = bShape.reduce(1, *)
            do {
                _ = try run([Node(name: "q", opType: "MatMulNBits", domain: "com.microsoft", inputs: ["a", "B", "s"], outputs: ["y"], attributes: attrs)],
                            a: a, initializers: [Tensor(.uint8, shape: bShape, values: [UInt8](repeating: 0x88, count: count), name: "B"),
                                                 Tensor(floats: [1, 1], shape: [1, 2], name: "s")])
                return ""
            } catch { return "\(error)" }
        }
        let ok = [LinearKit.int("K", 32), LinearKit.int("N", 1), LinearKit.int("block_size", 16)]
        XCTAssertEqual(attempt(ok, bShape: [1, 2, 8]), "")
        XCTAssertTrue(attempt(ok, bShape: [1, 2, 16]).contains("B must be uint8 [1, 2, 8]"), attempt(ok, bShape: [1, 2, 16]))
        let badBlock = [LinearKit.int("K", 32), LinearKit.int("N", 1), LinearKit.int("block_size", 24)]
        XCTAssertTrue(attempt(badBlock, bShape: [1, 2, 8]).contains("block_size must be a power of two"))
    }
}
