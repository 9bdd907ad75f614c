import IR
import XCTest

final class TensorTests: XCTestCase {
    func testByteCounts() {
        XCTAssertEqual(ElementType.float32.byteCount(elements: 6), 24)
        XCTAssertEqual(ElementType.int4.byteCount(elements: 5), 3)
        XCTAssertEqual(ElementType.uint2.byteCount(elements: 5), 2)
        XCTAssertEqual(ElementType.bool.byteCount(elements: 3), 3)
        XCTAssertEqual(ElementType.complex128.byteCount(elements: 2), 32)
        XCTAssertNil(ElementType.string.byteCount(elements: 1))
        XCTAssertNil(ElementType.float64.byteCount(elements: Int.max / 4))
        XCTAssertNil(Tensor.checkedElementCount([1 << 40, 1 << 40]))
        XCTAssertNil(Tensor.checkedElementCount([3, -1]))
        XCTAssertEqual(Tensor.checkedElementCount([]), 1)
    }

    func testInt4PackingFollowsONNXNibbleOrder() {
        let values = [1, -2, 7, -8, 3]
        let packed = Nibbles.pack(values)
        // element 0 in the low nibble of byte 0, element 1 in its high nibble
        XCTAssertEqual(packed, [0xE1, 0x87, 0x03])
        let t = Tensor(elementType: .int4, shape: [5], data: .bytes(ByteBuffer(copying: packed)))
        XCTAssertEqual(t.int64Values(), values.map(Int64.init))
        let u = Tensor(elementType: .uint4, shape: [5], data: .bytes(ByteBuffer(copying: packed)))
        XCTAssertEqual(u.int64Values(), [1, 14, 7, 8, 3])
    }

    func testHalfAndBFloat16Conversions() {
        XCTAssertEqual(HalfFloat.toFloat(0x3C00), 1)
        XCTAssertEqual(HalfFloat.toFloat(0xC000), -2)
        XCTAssertEqual(HalfFloat.toFloat(0x0001), 0x1p-24)  // smallest subnormal
        XCTAssertEqual(HalfFloat.toFloat(0x7BFF), 65504)
        XCTAssertEqual(HalfFloat.toFloat(0x7C00), .infinity)
        XCTAssertTrue(HalfFloat.toFloat(0x7E00).isNaN)
        XCTAssertEqual(HalfFloat.toFloat(0x8000).sign, .minus)
        for bits in stride(from: 0, through: 0xFFFF, by: 7) where !HalfFloat.toFloat(UInt16(bits)).isNaN {
            XCTAssertEqual(HalfFloat.fromFloat(HalfFloat.toFloat(UInt16(bits))), UInt16(bits))
        }
        XCTAssertEqual(HalfFloat.bfloat16ToFloat(0x3F80), 1)
        XCTAssertEqual(HalfFloat.bfloat16FromFloat(1), 0x3F80)
        // round to nearest even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7
        XCTAssertEqual(HalfFloat.bfloat16FromFloat(1 + 0x1p-8), 0x3F80)
        XCTAssertEqual(HalfFloat.bfloat16FromFloat(1 + 0x1p-8 + 0x1p-20), 0x3F81)
        XCTAssertTrue(HalfFloat.bfloat16ToFloat(HalfFloat.bfloat16FromFloat(.nan)).isNaN)
    }

    func testFloatValuesOfEveryComputableType() {
        let t = Tensor(.int16, shape: [3], values: [Int16(-3), 0, 300])
        XCTAssertEqual(t.floatValues(), [-3, 0, 300])
        let h = Tensor(.float16, shape: [2], values: [UInt16(0x3C00), 0xC000])
        XCTAssertEqual(h.floatValues(), [1, -2])
        let b = Tensor(.bool, shape: [2], values: [UInt8(0), 1])
        XCTAssertEqual(b.floatValues(), [0, 1])
        let s = Tensor(elementType: .string, shape: [1], data: .strings([Array("a".utf8)]))
        XCTAssertNil(s.floatValues())
    }
}
