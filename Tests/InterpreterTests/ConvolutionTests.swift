import IR
import Interpreter
import XCTest

final class ConvolutionTests: XCTestCase {
    typealias K = LinearKit

    /// Direct convolution in Double: x [N, C, spatial...], w [M, C/group, kernel...].
    func reference(x: [Float], xShape: [Int], w: [Float], wShape: [Int], bias: [Float]?, strides: [Int], dilations: [Int],
                   padBegin: [Int], outSpatial: [Int], group: Int) -> [Float] {
        let n = xShape[0], c = xShape[1], m = wShape[0], r = xShape.count - 2
        let cg = c / group, mg = m / group
        let inSp = Array(xShape[2...]), k = Array(wShape[2...])
        let inSize = inSp.reduce(1, *), outSize = outSpatial.reduce(1, *), kSize = k.reduce(1, *)
        var out = [Float](repeating: 0, count: n * m * outSize)
        func coords(_ i: Int, _ dims: [Int]) -> [Int] {
            var rem = i
            var cs = [Int](repeating: 0, count: dims.count)
            for d in stride(from: dims.count - 1, through: 0, by: -1) { cs[d] = rem % dims[d]; rem /= dims[d] }
            return cs
        }
        for img in 0..<n {
            for oc in 0..<m {
                let grp = oc / mg
                for o in 0..<outSize {
                    let oco = coords(o, outSpatial)
                    var acc = Double(bias?[oc] ?? 0)
                    for ic in 0..<cg {
                        for t in 0..<kSize {
                            let kc = coords(t, k)
                            var idx = 0
                            var inside = true
                            for d in 0..<r {
                                let p = oco[d] * strides[d] - padBegin[d] + kc[d] * dilations[d]
                                if p < 0 || p >= inSp[d] { inside = false; break }
                                idx = idx * inSp[d] + p
                            }
                            if !inside { continue }
                            acc += Double(x[(img * c + grp * cg + ic) * inSize + idx]) * Double(w[(oc * cg + ic) * kSize + t])
                        }
                    }
                    out[(img * m + oc) * outSize + o] = Float(acc)
                }
            }
        }
        return out
    }

    /// Runs Conv with explicit pads and checks it against `reference`, for 1 and 2 threads.
    func check(xShape: [Int], wShape: [Int], strides: [Int], dilations: [Int], pads: [Int], group: Int, bias: Bool,
               type: ElementType = .float32, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = xShape.count - 2
        let x = K.random(xShape.reduce(1, *), seed: 11), w = K.random(wShape.reduce(1, *), seed: 12)
        let b = bias ? K.random(wShape[0], seed: 13) : nil
        let outSpatial = (0..<r).map { d in
            (xShape[d + 2] + pads[d] + pads[d + r] - ((wShape[d + 2] - 1) * dilations[d] + 1)) / strides[d] + 1
        }
        let want = reference(x: x, xShape: xShape, w: w, wShape: wShape, bias: b, strides: strides, dilations: dilations,
                             padBegin: Array(pads[..<r]), outSpatial: outSpatial, group: group)
        var inits = [("w", RTensor(floats: w, shape: wShape).converted(to: type))]
        if let b { inits.append(("b", RTensor(floats: b, shape: [wShape[0]]).converted(to: type))) }
        var results: [[Float]] = []
        for threads in [1, 2] {
            let y = try K.run("Conv", inputs: [("x", RTensor(floats: x, shape: xShape).converted(to: type))],
                              attributes: [K.ints("strides", strides), K.ints("dilations", dilations), K.ints("pads", pads),
                                           K.int("group", group)],
                              initializers: inits, threads: threads)[0]
            XCTAssertEqual(y.type, type, file: file, line: line)
            XCTAssertEqual(y.shape, [xShape[0], wShape[0]] + outSpatial, file: file, line: line)
            K.assertClose(y.floatArray(), want, tolerance: type == .float16 ? 4e-3 : 1e-4, file: file, line: line)
            results.append(y.floatArray())
        }
        // Blocking never depends on the thread count, so neither do results.
        XCTAssertEqual(results[0], results[1], "results differ between 1 and 2 threads", file: file, line: line)
    }

    func testConvPathsMatchDirectConvolution() throws {
        // im2col tiles, asymmetric pads, strides and dilations.
        try check(xShape: [2, 3, 19, 17], wShape: [8, 3, 3, 5], strides: [2, 1], dilations: [1, 2], pads: [1, 2, 0, 3], group: 1, bias: true)
        // Winograd F(2x2, 3x3): 3x3, stride 1, >= 8 channels, odd output sizes.
        try check(xShape: [2, 16, 15, 13], wShape: [12, 16, 3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 0, 2, 1], group: 1, bias: true)
        try check(xShape: [1, 16, 14, 14], wShape: [16, 8, 3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], group: 2, bias: false)
        // 1x1 without im2col, and a large product split into blocks.
        try check(xShape: [1, 64, 24, 24], wShape: [40, 64, 1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, bias: true)
        // Depthwise (flat window, with stride phases) and with a depth multiplier.
        try check(xShape: [2, 6, 13, 11], wShape: [6, 1, 3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 0, 2], group: 6, bias: true)
        try check(xShape: [1, 4, 9, 10], wShape: [8, 1, 5, 3], strides: [1, 1], dilations: [2, 1], pads: [3, 1, 2, 0], group: 4, bias: false)
        // Depthwise with different strides per axis (direct rows).
        try check(xShape: [1, 3, 9, 10], wShape: [3, 1, 3, 3], strides: [1, 2], dilations: [1, 1], pads: [1, 1, 1, 1], group: 3, bias: true)
        // A small image with many channels: one whole column matrix whose rows
        // are filled by several threads (each chunk must land at its own rows).
        try check(xShape: [1, 64, 26, 26], wShape: [192, 64, 3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1], group: 1, bias: true)
        // 1-D and 3-D.
        try check(xShape: [2, 4, 20], wShape: [6, 2, 4], strides: [3], dilations: [2], pads: [2, 1], group: 2, bias: true)
        try check(xShape: [1, 2, 5, 6, 7], wShape: [3, 2, 2, 3, 2], strides: [1, 2, 1], dilations: [2, 1, 1], pads: [1, 0, 1, 0, 1, 1], group: 1, bias: true)
    }

    func testConvFloat64AndFloat16() throws {
        try check(xShape: [1, 8, 12, 12], wShape: [8, 8, 3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], group: 1, bias: true, type: .float64)
        try check(xShape: [1, 8, 12, 12], wShape: [8, 8, 3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], group: 1, bias: true, type: .float16)
        try check(xShape: [1, 3, 7, 7], wShape: [3, 1, 3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1], group: 3, bias: true, type: .float64)
    }

    func testConvAutoPad() throws {
        let x = RTensor(floats: (0..<25).map(Float.init), shape: [1, 1, 5, 5])
        let w = RTensor(floats: [Float](repeating: 1, count: 4), shape: [1, 1, 2, 2])
        // SAME_UPPER puts the odd padding at the end, SAME_LOWER at the start.
        let upper = try K.run("Conv", inputs: [("x", x)], attributes: [K.string("auto_pad", "SAME_UPPER"), K.ints("strides", [2, 2])],
                              initializers: [("w", w)])[0]
        XCTAssertEqual(upper.shape, [1, 1, 3, 3])
        XCTAssertEqual(upper.array(Float.self), [12, 20, 13, 52, 60, 33, 41, 45, 24])
        let lower = try K.run("Conv", inputs: [("x", x)], attributes: [K.string("auto_pad", "SAME_LOWER"), K.ints("strides", [2, 2])],
                              initializers: [("w", w)])[0]
        XCTAssertEqual(lower.array(Float.self), [0, 3, 7, 15, 36, 44, 35, 76, 84])
        let valid = try K.run("Conv", inputs: [("x", x)], attributes: [K.string("auto_pad", "VALID"), K.ints("strides", [2, 2])],
                              initializers: [("w", w)])[0]
        XCTAssertEqual(valid.array(Float.self), [12, 20, 52, 60])
    }

    func testConvRejectsMismatchedShapes() {
        let x = RTensor(floats: [Float](repeating: 0, count: 18), shape: [1, 2, 3, 3])
        let w = RTensor(floats: [Float](repeating: 0, count: 27), shape: [1, 3, 3, 3])
        XCTAssertThrowsError(try K.run("Conv", inputs: [("x", x)], initializers: [("w", w)])) {
            XCTAssertTrue("\($0)".contains("do not fit group=1"), "\($0)")
        }
    }

    func testConvTransposeOutputShapeAndPadding() throws {
        // 1-D: x = [1, 2, 3], w = [1, 1, 1], stride 2: full output has 7 values.
        let x = RTensor(floats: [1, 2, 3], shape: [1, 1, 3])
        let w = RTensor(floats: [1, 1, 1], shape: [1, 1, 3])
        let full = try K.run("ConvTranspose", inputs: [("x", x)], attributes: [K.ints("strides", [2])], initializers: [("w", w)])[0]
        XCTAssertEqual(full.array(Float.self), [1, 1, 3, 2, 5, 3, 3])
        // output_padding adds one (zero) value at the end.
        let padded = try K.run("ConvTranspose", inputs: [("x", x)], attributes: [K.ints("strides", [2]), K.ints("output_padding", [1])],
                               initializers: [("w", w)])[0]
        XCTAssertEqual(padded.array(Float.self), [1, 1, 3, 2, 5, 3, 3, 0])
        // output_shape 6 (total padding 1): NOTSET and SAME_LOWER drop the odd
        // value at the start, SAME_UPPER at the end (Operators.md, ConvTranspose).
        let notset = try K.run("ConvTranspose", inputs: [("x", x)], attributes: [K.ints("strides", [2]), K.ints("output_shape", [6])],
                               initializers: [("w", w)])[0]
        XCTAssertEqual(notset.array(Float.self), [1, 3, 2, 5, 3, 3])
        let upper = try K.run("ConvTranspose", inputs: [("x", x)],
                              attributes: [K.ints("strides", [2]), K.ints("output_shape", [6]), K.string("auto_pad", "SAME_UPPER")],
                              initializers: [("w", w)])[0]
        XCTAssertEqual(upper.array(Float.self), [1, 1, 3, 2, 5, 3])
        // SAME_UPPER without output_shape: output = input * stride.
        let same = try K.run("ConvTranspose", inputs: [("x", x)], attributes: [K.ints("strides", [2]), K.string("auto_pad", "SAME_UPPER")],
                             initializers: [("w", w)])[0]
        XCTAssertEqual(same.shape, [1, 1, 6])
    }

    func testConvTransposeGroupsAndBias() throws {
        // Two groups of one channel each, two output channels per group.
        let x = RTensor(floats: [1, 2, 10, 20], shape: [1, 2, 2])
        let w = RTensor(floats: [1, 1, 2, 0, 0, 1, 1, 1], shape: [2, 2, 2])
        let b = RTensor(floats: [0, 100, 0, 1000], shape: [4])
        let y = try K.run("ConvTranspose", inputs: [("x", x)], attributes: [K.int("group", 2)], initializers: [("w", w), ("b", b)])[0]
        XCTAssertEqual(y.shape, [1, 4, 3])
        XCTAssertEqual(y.array(Float.self), [1, 3, 2, 102, 104, 100, 0, 10, 20, 1010, 1030, 1020])
    }
}
