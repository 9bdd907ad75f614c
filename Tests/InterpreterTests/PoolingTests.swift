import IR
import Interpreter
import XCTest

final class PoolingTests: XCTestCase {
    typealias K = LinearKit

    let x4x4 = RTensor(floats: (1...16).map(Float.init), shape: [1, 1, 4, 4])

    func testMaxPoolIndicesInBothStorageOrders() throws {
        let x = RTensor(floats: [1, 9, 2, 3, 4, 5, 8, 7, 6, 0, 1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 1, 3, 3])
        let rowMajor = try K.run("MaxPool", inputs: [("x", x)], outputs: ["y", "i"], attributes: [K.ints("kernel_shape", [2, 2])])
        XCTAssertEqual(rowMajor[0].array(Float.self), [9, 9, 8, 7, 4, 5, 7, 8])
        // Indices count over the flattened input, batch and channel included.
        XCTAssertEqual(rowMajor[1].array(Int64.self), [1, 1, 6, 7, 13, 14, 16, 17])
        let colMajor = try K.run("MaxPool", inputs: [("x", x)], outputs: ["y", "i"],
                                 attributes: [K.ints("kernel_shape", [2, 2]), K.int("storage_order", 1)])
        XCTAssertEqual(colMajor[1].array(Int64.self), [3, 3, 2, 5, 13, 16, 14, 17])
    }

    func testMaxPoolCeilModeAndPadding() throws {
        // 4 + 1 + 1 padded, kernel 3, stride 2: floor gives 2 outputs, ceil 3,
        // but a window may not start in the end padding, so ceil also gives 2
        // for 4 + 0 + 1 (test_maxpool_2d_ceil_output_size_reduce_by_one).
        let ceil = try K.run("MaxPool", inputs: [("x", x4x4)],
                             attributes: [K.ints("kernel_shape", [3, 3]), K.ints("strides", [2, 2]), K.int("ceil_mode", 1),
                                          K.ints("pads", [0, 0, 0, 0])])[0]
        XCTAssertEqual(ceil.shape, [1, 1, 2, 2])
        XCTAssertEqual(ceil.array(Float.self), [11, 12, 15, 16])
        let padded = try K.run("MaxPool", inputs: [("x", RTensor(floats: [-1, -2, -3, -4], shape: [1, 1, 2, 2]))],
                               attributes: [K.ints("kernel_shape", [2, 2]), K.ints("pads", [1, 1, 1, 1])])[0]
        // Padding never wins over real (negative) values.
        XCTAssertEqual(padded.array(Float.self), [-1, -1, -2, -1, -1, -2, -3, -3, -4])
    }

    func testMaxPoolInt8AndUInt8() throws {
        let x = RTensor(.int8, shape: [1, 1, 4], values: [Int8(-128), -5, 7, -100])
        let y = try K.run("MaxPool", inputs: [("x", x)], attributes: [K.ints("kernel_shape", [2]), K.ints("pads", [1, 0])])[0]
        XCTAssertEqual(y.type, .int8)
        XCTAssertEqual(y.array(Int8.self), [-128, -5, 7, 7])
        let u = RTensor(.uint8, shape: [1, 1, 3], values: [UInt8(0), 255, 3])
        XCTAssertEqual(try K.run("MaxPool", inputs: [("x", u)], attributes: [K.ints("kernel_shape", [2])])[0].array(UInt8.self), [255, 255])
    }

    func testAveragePoolDivisors() throws {
        // Windows start at -1, 1, 3; with ceil_mode the last one overhangs the
        // end. count_include_pad = 0 divides by the taps inside the input; = 1
        // also counts padding, but not the overhang past the end padding (as
        // ONNX Runtime and PyTorch do).
        let x = RTensor(floats: [1, 2, 3, 4, 5], shape: [1, 1, 5])
        let attrs = [K.ints("kernel_shape", [3]), K.ints("strides", [2]), K.ints("pads", [1, 0]), K.int("ceil_mode", 1)]
        let exclude = try K.run("AveragePool", inputs: [("x", x)], attributes: attrs)[0]
        XCTAssertEqual(exclude.shape, [1, 1, 3])
        XCTAssertEqual(exclude.array(Float.self), [1.5, 3, 4.5])
        let include = try K.run("AveragePool", inputs: [("x", x)], attributes: attrs + [K.int("count_include_pad", 1)])[0]
        XCTAssertEqual(include.array(Float.self), [1, 3, 4.5])
        let square = try K.run("AveragePool", inputs: [("x", x4x4)],
                               attributes: [K.ints("kernel_shape", [3, 3]), K.ints("strides", [2, 2]), K.ints("pads", [1, 1, 0, 0]),
                                            K.int("count_include_pad", 1)])[0]
        XCTAssertEqual(square.array(Float.self), [Float(14) / 9, Float(30) / 9, Float(57) / 9, 11])
    }

    func testAveragePoolDilations() throws {
        let y = try K.run("AveragePool", inputs: [("x", x4x4)],
                          attributes: [K.ints("kernel_shape", [2, 2]), K.ints("dilations", [2, 2])], opset: 19)[0]
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.array(Float.self), [6, 7, 10, 11])
    }

    func testLpPoolAndGlobalPools() throws {
        let x = RTensor(floats: [3, -4, 0, 12], shape: [1, 1, 4])
        let l2 = try K.run("LpPool", inputs: [("x", x)], attributes: [K.ints("kernel_shape", [2]), K.ints("strides", [2])])[0]
        XCTAssertEqual(l2.array(Float.self), [5, 12])
        let l1 = try K.run("LpPool", inputs: [("x", x)], attributes: [K.ints("kernel_shape", [2]), K.ints("strides", [2]), K.int("p", 1)])[0]
        XCTAssertEqual(l1.array(Float.self), [7, 12])
        let g = RTensor(floats: [1, 2, 3, 4, -1, -2, -3, -4], shape: [1, 2, 2, 2])
        XCTAssertEqual(try K.run("GlobalAveragePool", inputs: [("x", g)])[0].array(Float.self), [2.5, -2.5])
        let gmax = try K.run("GlobalMaxPool", inputs: [("x", g)])[0]
        XCTAssertEqual(gmax.shape, [1, 2, 1, 1])
        XCTAssertEqual(gmax.array(Float.self), [4, -1])
        K.assertClose(try K.run("GlobalLpPool", inputs: [("x", g)])[0].array(Float.self), [Float(30).squareRoot(), Float(30).squareRoot()])
    }

    func testPoolsMatchAcrossPathsAndThreads() throws {
        // The flat window (2-D) and the 3-D loop must agree: a 2-D pool run as 3-D with a unit depth.
        let values = K.random(2 * 3 * 11 * 9, seed: 5)
        let x2 = RTensor(floats: values, shape: [2, 3, 11, 9]), x3 = RTensor(floats: values, shape: [2, 3, 1, 11, 9])
        for op in ["MaxPool", "AveragePool", "LpPool"] {
            var outs: [[Float]] = []
            for threads in [1, 2] {
                let a2 = [K.ints("kernel_shape", [3, 2]), K.ints("strides", [2, 2]), K.ints("pads", [1, 0, 2, 1]), K.int("ceil_mode", 1)]
                let a3 = [K.ints("kernel_shape", [1, 3, 2]), K.ints("strides", [1, 2, 2]), K.ints("pads", [0, 1, 0, 0, 2, 1]), K.int("ceil_mode", 1)]
                let y2 = try K.run(op, inputs: [("x", x2)], attributes: a2, threads: threads)[0]
                let y3 = try K.run(op, inputs: [("x", x3)], attributes: a3, threads: threads)[0]
                XCTAssertEqual(y2.shape, [2, 3, 6, 5], op)
                K.assertClose(y2.array(Float.self), y3.array(Float.self), tolerance: 1e-5)
                outs.append(y2.array(Float.self))
            }
            XCTAssertEqual(outs[0], outs[1], op)
        }
        // Large kernels (SPP) take the separable row/column passes; the 3-D loop does not.
        for op in ["MaxPool", "AveragePool"] {
            let a2 = [K.ints("kernel_shape", [5, 7]), K.ints("pads", [2, 3, 2, 3])]
            let a3 = [K.ints("kernel_shape", [1, 5, 7]), K.ints("pads", [0, 2, 3, 0, 2, 3])]
            let y2 = try K.run(op, inputs: [("x", x2)], attributes: a2)[0]
            let y3 = try K.run(op, inputs: [("x", x3)], attributes: a3)[0]
            XCTAssertEqual(y2.shape, [2, 3, 11, 9], op)
            K.assertClose(y2.array(Float.self), y3.array(Float.self), tolerance: 1e-5)
        }
    }
}
