import Foundation
import IR
import ONNX
import XCTest

/// Every way ONNX stores tensor data decodes to the same raw bytes: the
/// fixtures of Tests/Fixtures/good (tools/make_fixtures.py) carry the bytes
/// that onnx's own numpy_helper decodes.
final class StorageFormTests: XCTestCase {
    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.good.appendingPathComponent(name))) as! [String: Any]
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testTypedAndRawFieldsDecodeToONNXBytes() throws {
        let model = try ONNXImporter.importModel(at: Fixtures.good.appendingPathComponent("typed_fields.onnx").path)
        let expected = try json("typed_fields.json")
        XCTAssertEqual(Set(model.graph.initializers.keys), Set(expected.keys))
        for (name, value) in expected {
            let e = value as! [String: Any]
            let t = try XCTUnwrap(model.graph.initializers[name])
            XCTAssertEqual(t.elementType.onnxName, e["type"] as? String, name)
            XCTAssertEqual(t.shape, e["dims"] as? [Int], name)
            switch t.data {
            case .bytes(let b): XCTAssertEqual(hex(b.array), e["raw_hex"] as? String, name)
            case .strings(let ss): XCTAssertEqual(ss.map { String(decoding: $0, as: UTF8.self) }, e["strings"] as? [String], name)
            }
        }
        // Typed and raw variants are the same tensor once imported.
        for (name, t) in model.graph.initializers where name.hasSuffix("_typed") {
            if let raw = model.graph.initializers[name.replacingOccurrences(of: "_typed", with: "_raw")] {
                XCTAssertEqual(t.data, raw.data, name)
            }
        }
    }

    func testConstantAttributesOfEveryForm() throws {
        let model = try ONNXImporter.importModel(at: Fixtures.good.appendingPathComponent("constants.onnx").path)
        let expected = try json("constants.json")
        let constants = model.graph.nodes.filter { $0.opType == "Constant" }
        XCTAssertEqual(constants.count, expected.count)
        for node in constants {
            let out = node.outputs[0]
            let e = try XCTUnwrap(expected[out] as? [String: Any], out)
            let attribute = try XCTUnwrap(e["attribute"] as? String)
            let value = try XCTUnwrap(node[attribute: attribute], "\(out) lacks \(attribute)")
            switch value {
            case .tensor(let t): XCTAssertEqual(t.floatValues(), (e["values"] as? [Double])?.map(Float.init), out)
            case .float(let f): XCTAssertEqual([f], (e["values"] as? [Double])?.map(Float.init), out)
            case .floats(let fs): XCTAssertEqual(fs, (e["values"] as? [Double])?.map(Float.init), out)
            case .int(let i): XCTAssertEqual([i], (e["values"] as? [Int])?.map(Int64.init), out)
            case .ints(let xs): XCTAssertEqual(xs, (e["values"] as? [Int])?.map(Int64.init), out)
            case .string(let s): XCTAssertEqual([s], e["strings"] as? [String], out)
            case .strings(let ss): XCTAssertEqual(ss, e["strings"] as? [String], out)
            case .sparseTensor(let m): XCTAssertFalse(m.bytes.isEmpty, out)
            default: XCTFail("\(out): unexpected \(value.kind)")
            }
        }
    }

    func testEveryGoodFixtureRoundTripsThroughTheExporter() throws {
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["typed_fields.onnx", "constants.onnx", "subgraph.onnx", "function.onnx", "external/model.onnx"] {
            let model = try ONNXImporter.importModel(at: Fixtures.good.appendingPathComponent(name).path)
            for (i, options) in [ExportOptions(externalData: .never), ExportOptions(externalData: .always, threshold: 0)].enumerated() {
                let out = dir.appendingPathComponent("\(i)-\(name.replacingOccurrences(of: "/", with: "_"))").path
                try ONNXExporter.write(model, to: out, options: options)
                XCTAssertEqual(try ONNXImporter.importModel(at: out), model, "\(name) with \(options.externalData)")
            }
        }
    }

    func testSubgraphsAndFunctionsAreKept() throws {
        let sub = try ONNXImporter.importModel(at: Fixtures.good.appendingPathComponent("subgraph.onnx").path)
        var depth = 0
        sub.graph.walk { _, d in depth = max(depth, d) }
        XCTAssertEqual(depth, 2, "If branch holding a Loop body")
        let fn = try ONNXImporter.importModel(at: Fixtures.good.appendingPathComponent("function.onnx").path)
        XCTAssertEqual(fn.functions.map(\.name), ["ScaledAdd"])
        XCTAssertTrue(fn.functions[0].nodes.contains { $0.attributes.contains { $0.referencedAttribute != nil } })
        // The default attribute value (attribute_proto, newer than the bindings' onnx.proto) is carried as an unknown field.
        XCTAssertFalse(fn.functions[0].unknownFields.isEmpty)
    }

    func testExternalDataAtUnalignedOffsetsIsMapped() throws {
        let model = try ONNXImporter.importModel(at: Fixtures.good.appendingPathComponent("external/model.onnx").path)
        let expected = try json("external/model.json")
        XCTAssertFalse(model.graph.initializers.isEmpty)
        for (_, t) in model.graph.initializers { XCTAssertEqual(t.rawBytes?.isMapped, true) }
        XCTAssertNotNil(expected["cases"])
    }
    /// quantc's packing of int4/uint4 (odd element counts) gives the bytes onnx's numpy_helper
    /// writes for the same values (the fixtures), and survives export and import.
    func testInt4PackingMatchesONNXAndRoundTrips() throws {
        let expected = try json("typed_fields.json")
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (type, name, values) in [(ElementType.int4, "INT4_raw", [-8, 7, -1, 0, 3]), (.uint4, "UINT4_raw", [0, 15, 1, 8, 9])] {
            let packed = Nibbles.pack(values)
            XCTAssertEqual(hex(packed), (expected[name] as! [String: Any])["raw_hex"] as? String, name)
            let t = Tensor(elementType: type, shape: [5], data: .bytes(ByteBuffer(copying: packed)), name: name)
            let path = dir.appendingPathComponent("\(name).pb").path
            try Data(ONNXExporter.serialize(tensor: t)).write(to: URL(fileURLWithPath: path))
            let back = try ONNXImporter.importTensor(at: path)
            XCTAssertEqual(back.elementType, type)
            XCTAssertEqual(back.shape, [5])
            XCTAssertEqual(back.byteCount, 3)
            XCTAssertEqual(back.int64Values(), values.map(Int64.init))
        }
    }
}
