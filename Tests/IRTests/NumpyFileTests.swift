import Foundation
import IR
import XCTest

/// The .npy/.npz readers against files NumPy wrote (tools/make_numpy_fixtures.py).
final class NumpyFileTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/numpy")

    func path(_ name: String) -> String { Self.dir.appendingPathComponent(name).path }

    func testReadsArraysScalarsAndStrings() throws {
        let a = try NumpyFile.read(path("a.npy"))
        XCTAssertEqual(a.elementType, .float32)
        XCTAssertEqual(a.shape, [3, 4])
        XCTAssertEqual(a.floatValues()?.prefix(3), [-5.5, -4.5, -3.5])
        let s = try NumpyFile.read(path("scalar.npy"))
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.floatValues(), [3.25])
        let str = try NumpyFile.read(path("strings.npy"))
        XCTAssertEqual(str.data, .strings([Array("ab".utf8), Array("cü".utf8)]))
    }

    func testEncodeThenDecodeRoundTrips() throws {
        let t = Tensor(.int16, shape: [2, 2], values: [Int16(-1), 2, 300, -400])
        let bytes = try XCTUnwrap(NumpyFile.encode(t))
        XCTAssertEqual((bytes.count - 8) % 64, 0, "the 8 data bytes start 64-byte aligned")
        let back = try bytes.withUnsafeBytes { try NumpyFile.decode($0, path: "mem") }
        XCTAssertEqual(back.shape, [2, 2])
        XCTAssertEqual(back.int64Values(), [-1, 2, 300, -400])
    }

    func testStoredAndDeflatedArchives() throws {
        for file in ["stored.npz", "deflated.npz"] {
            let arrays = try NumpyFile.readArchive(path(file))
            XCTAssertEqual(arrays.map(\.name), ["a", "b", "c", "h"], file)
            XCTAssertEqual(arrays[0].tensor.floatValues()?.last, 5.5, file)
            XCTAssertEqual(arrays[1].tensor.int64Values(), [1, -2, 3, 4], file)
            XCTAssertEqual(arrays[2].tensor.elementType, .bool, file)
            XCTAssertEqual(arrays[3].tensor.floatValues(), [1.5, -2.25], file)
        }
    }

    func testBadFilesAreNamed() {
        XCTAssertThrowsError(try NumpyFile.readArchive(path("a.npy"))) {
            XCTAssertEqual("\($0)", "\(self.path("a.npy")): is not a zip archive (no end of central directory)")
        }
        XCTAssertThrowsError(try NumpyFile.read(path("stored.npz"))) {
            XCTAssertTrue("\($0)".hasSuffix("not a .npy file (no \\x93NUMPY header)"))
        }
        let header = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        bytes += [0, 0, 0, 0]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try NumpyFile.decode($0, path: "obj.npy") }) {
            XCTAssertEqual("\($0)", "obj.npy: dtype '|O' is not numeric (quantc reads float16/32/64, int8–64, uint8–64 and bool)")
        }
    }
}
