import IR
import Interpreter
import XCTest

final class LinearTests: XCTestCase {
    func testMatMulVectorsAndBroadcastBatches() throws {
        // 1-D A is a row vector, 1-D B a column vector; the added axis is removed.
        let v = RTensor(floats: [1, 2, 3], shape: [3])
        let m = RTensor(floats: [1, 0, 0, 1, 1, 1], shape: [3, 2])
        var y = try LinearKit.run("MatMul", inputs: [("a", v), ("b", m)])[0]
        XCTAssertEqual(y.shape, [2])
        XCTAssertEqual(y.array(Float.self), [4, 5])
        y = try LinearKit.run("MatMul", inputs: [("a", v), ("b", v)])[0]
        XCTAssertEqual(y.shape, [])
        XCTAssertEqual(y.array(Float.self), [14])
        // Batch dims [2, 1] and [3] broadcast to [2, 3].
        let a = RTensor(floats: (0..<8).map(Float.init), shape: [2, 1, 2, 2])
        let b = RTensor(floats: (0..<12).map(Float.init), shape: [3, 2, 2])
        y = try LinearKit.run("MatMul", inputs: [("a", a), ("b", b)])[0]
        XCTAssertEqual(y.shape, [2, 3, 2, 2])
        let av = a.array(Float.self), bv = b.array(Float.self), out = y.array(Float.self)
        for i in 0..<2 {
            for j in 0..<3 {
                for r in 0..<2 {
                    for c in 0..<2 {
                        let want = (0..<2).reduce(Float(0)) { $0 + av[i * 4 + r * 2 + $1] * bv[j * 4 + $1 * 2 + c] }
                        XCTAssertEqual(out[((i * 3 + j) * 2 + r) * 2 + c], want)
                    }
                }
            }
        }
        XCTAssertThrowsError(try LinearKit.run("MatMul", inputs: [("a", RTensor(floats: [1, 2], shape: [1, 2])), ("b", v)]))
    }

    func testIntegerMatMulWraps() throws {
        let a = RTensor(.int32, shape: [1, 2], values: [Int32.max, 1])
        let b = RTensor(.int32, shape: [2, 1], values: [Int32(2), 3])
        let y = try LinearKit.run("MatMul", inputs: [("a", a), ("b", b)])[0]
        XCTAssertEqual(y.array(Int32.self), [Int32.max &* 2 &+ 3])
    }

    func testGemmTransposesAlphaBetaAndBroadcastC() throws {
        // A' = A^T is [2, 3], B' = B^T is [3, 2].
        let a = RTensor(floats: [1, 4, 2, 5, 3, 6], shape: [3, 2])
        let b = RTensor(floats: [1, 0, 1, 0, 1, 1], shape: [2, 3])
        let c = RTensor(floats: [10, 20], shape: [2])
        let y = try LinearKit.run("Gemm", inputs: [("a", a), ("b", b), ("c", c)],
                            attributes: [LinearKit.int("transA", 1), LinearKit.int("transB", 1), LinearKit.float("alpha", 2), LinearKit.float("beta", 0.5)])[0]
        // A'B' = [[4, 5], [10, 11]]
        XCTAssertEqual(y.shape, [2, 2])
        XCTAssertEqual(y.array(Float.self), [13, 20, 25, 32])
    }

    func testGemmIgnoresCWhenBetaIsZero() throws {
        let a = RTensor(floats: [1, 2], shape: [1, 2]), b = RTensor(floats: [3, 4], shape: [2, 1])
        let c = RTensor(floats: [.infinity], shape: [1])
        let y = try LinearKit.run("Gemm", inputs: [("a", a), ("b", b), ("c", c)], attributes: [LinearKit.float("beta", 0)])[0]
        XCTAssertEqual(y.array(Float.self), [11])
        XCTAssertThrowsError(try LinearKit.run("Gemm", inputs: [("a", a), ("b", b), ("c", RTensor(floats: [1, 2], shape: [2]))])) {
            XCTAssertTrue("\($0)".contains("does not broadcast to [1, 1]"), "\($0)")
        }
    }

    func testGemmMatrixVectorMatchesGeneralProduct() throws {
        // Matrix-vector shapes go to gemv; check them against a plain sum.
        let k = 300, n = 70
        let a = RTensor(floats: LinearKit.random(k, seed: 1), shape: [1, k])
        let b = RTensor(floats: LinearKit.random(n * k, seed: 2), shape: [n, k])
        let c = RTensor(floats: LinearKit.random(n, seed: 3), shape: [n])
        for threads in [1, 2] {
            let y = try LinearKit.run("Gemm", inputs: [("a", a), ("b", b), ("c", c)], attributes: [LinearKit.int("transB", 1)], threads: threads)[0]
            let av = a.array(Float.self), bv = b.array(Float.self), cv = c.array(Float.self)
            let want = (0..<n).map { j in (0..<k).reduce(Float(0)) { $0 + av[$1] * bv[j * k + $1] } + cv[j] }
            LinearKit.assertClose(y.array(Float.self), want, tolerance: 1e-4)
        }
    }

    func testFloat16MatMulComputesInFloat() throws {
        let a = RTensor(floats: [1.5, -2, 0.25, 4], shape: [2, 2]).converted(to: .float16)
        let y = try LinearKit.run("MatMul", inputs: [("a", a), ("b", a)])[0]
        XCTAssertEqual(y.type, .float16)
        XCTAssertEqual(y.floatArray(), [1.75, -11, 1.375, 15.5])
    }

    func testEinsumForms() throws {
        let m = RTensor(floats: [1, 2, 3, 4, 5, 6, 7, 8, 9], shape: [3, 3])
        func einsum(_ eq: String, _ xs: RTensor...) throws -> RTensor {
            try LinearKit.run("Einsum", inputs: xs.enumerated().map { ("x\($0.offset)", $0.element) },
                        attributes: [LinearKit.string("equation", eq)])[0]
        }
        XCTAssertEqual(try einsum("ii->i", m).array(Float.self), [1, 5, 9])
        XCTAssertEqual(try einsum("ii", m).array(Float.self), [15])  // implicit output: trace
        XCTAssertEqual(try einsum("ij->ji", m).array(Float.self), [1, 4, 7, 2, 5, 8, 3, 6, 9])
        XCTAssertEqual(try einsum("ij->i", m).array(Float.self), [6, 15, 24])
        XCTAssertEqual(try einsum("ji", m).array(Float.self), [1, 4, 7, 2, 5, 8, 3, 6, 9])  // implicit: sorted labels
        XCTAssertEqual(try einsum("ij,jk", m, m).array(Float.self), [30, 36, 42, 66, 81, 96, 102, 126, 150])
        // Ellipsis dims broadcast (2 against 1) and lead the output.
        let a = RTensor(floats: [1, 2, 3, 4], shape: [2, 1, 2]), b = RTensor(floats: [1, 10], shape: [1, 2])
        let y = try einsum("...ij,...j->...i", a, b)
        XCTAssertEqual(y.shape, [2, 1])
        XCTAssertEqual(y.array(Float.self), [21, 43])
        // Three operands.
        let v = RTensor(floats: [1, 2, 3], shape: [3])
        XCTAssertEqual(try einsum("i,ij,j->", v, m, v).array(Float.self), [228])
        XCTAssertThrowsError(try einsum("ij,jk->ik", m, v))
    }

    func testEinsumIntegers() throws {
        let a = RTensor(.int64, shape: [2, 2], values: [Int64(1), 2, 3, 4])
        let y = try LinearKit.run("Einsum", inputs: [("a", a), ("b", a)], attributes: [LinearKit.string("equation", "ij,jk->ik")])[0]
        XCTAssertEqual(y.type, .int64)
        XCTAssertEqual(y.array(Int64.self), [7, 10, 15, 22])
    }
}

/// Helpers shared by LinearTests, ConvolutionTests and PoolingTests.
enum LinearKit {
    /// Runs one node on the interpreter: inputs by name (in node order),
    /// then initializers, under default opset `opset` with `threads` threads.
    static func run(_ op: String, inputs: [(String, RTensor)], outputs: [String] = ["y"], attributes: [Attribute] = [],
                    initializers: [(String, RTensor)] = [], opset: Int64 = 21, threads: Int = 2) throws -> [RTensor] {
        let node = Node(name: op.lowercased(), opType: op, inputs: inputs.map(\.0) + initializers.map(\.0),
                        outputs: outputs, attributes: attributes)
        var g = Graph(name: "g", inputs: inputs.map { ValueInfo(name: $0.0, type: nil) },
                      outputs: outputs.filter { !$0.isEmpty }.map { ValueInfo(name: $0, type: nil) }, nodes: [node])
        for (name, t) in initializers { g.initializers[name] = t.irTensor(name: name) }
        let model = Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: g)
        let interpreter = try Interpreter(model: model, threads: threads)
        let result = try interpreter.run(inputs: Dictionary(uniqueKeysWithValues: inputs))
        return outputs.filter { !$0.isEmpty }.map { result[$0]! }
    }

    /// Deterministic pseudo-random floats in [-1, 1).
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    static func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "element count", file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= tolerance * max(1, abs(y))) {
            XCTFail("element \(i): \(x) vs \(y)", file: file, line: line)
            return
        }
    }

    static func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map { Int64($0) })) }
    static func int(_ name: String, _ v: Int) -> Attribute { Attribute(name, .int(Int64(v))) }
    static func float(_ name: String, _ v: Float) -> Attribute { Attribute(name, .float(v)) }
    static func string(_ name: String, _ v: String) -> Attribute { Attribute(name, .string(v)) }
}
