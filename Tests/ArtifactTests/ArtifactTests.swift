import Foundation
import XCTest
@testable import Artifact

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        // FIPS 180-4 examples.
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testIncrementalEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        var h = SHA256()
        for chunk in stride(from: 0, to: bytes.count, by: 37) { h.update(Array(bytes[chunk..<min(chunk + 37, bytes.count)])) }
        XCTAssertEqual(SHA256.hexString(h.finalize()), SHA256.hex(bytes))
    }
}

final class ArtifactDirectoryTests: XCTestCase {
    var folder: String!

    override func setUp() {
        folder = NSTemporaryDirectory() + "artifact-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func samplePlan() -> Plan {
        let x = PlanValue(name: "x", elementType: "float32", shape: [1, 4], offset: 0, bytes: 16)
        let y = PlanValue(name: "y", elementType: "float32", shape: [1, 4], offset: 256, bytes: 16)
        return Plan(quantcVersion: "test", target: "gfx803", inputs: [x], outputs: [y],
                    arena: Arena(peakBytes: 272, values: [ArenaValue(value: x, firstLaunch: -1, lastLaunch: 0),
                                                          ArenaValue(value: y, firstLaunch: 0, lastLaunch: 1)]),
                    weights: [],
                    launches: [Launch(nodes: ["relu"], kernel: "relu_0",
                                      arguments: [.buffer(region: .arena, name: "x", offset: 0, bytes: 16),
                                                  .buffer(region: .arena, name: "y", offset: 256, bytes: 16),
                                                  .int32(4)],
                                      globalSize: [4], localSize: nil)])
    }

    func write(_ path: String, plan: Plan, kernels: String = "kernel void relu_0() {}") throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try ArtifactWriter.write(to: path, files: [
            ArtifactFile.model: [1, 2, 3], ArtifactFile.kernels: Array(kernels.utf8),
            ArtifactFile.plan: Array(try enc.encode(plan)), ArtifactFile.weights: [],
        ], manifest: Manifest(quantcVersion: "test", sourceModelSHA256: "00", pipeline: "insert-qdq", target: "gfx803", files: [:]))
    }

    func testRoundTripAndReplace() throws {
        let out = folder + "/m.qc"
        try write(out, plan: samplePlan())
        let a = try ArtifactDirectory(verifying: out)
        XCTAssertEqual(a.plan, samplePlan())
        XCTAssertEqual(a.manifest.files.count, 4)
        // Replacing keeps exactly one directory and no temporaries.
        try write(out, plan: samplePlan(), kernels: "kernel void relu_0() { }")
        XCTAssertEqual(try ArtifactDirectory(verifying: out).contents(of: ArtifactFile.kernels), Array("kernel void relu_0() { }".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["m.qc"])
    }

    func testCorruptedFileIsNamed() throws {
        let out = folder + "/m.qc"
        try write(out, plan: samplePlan())
        try Data("kernel void evil() {}".utf8).write(to: URL(fileURLWithPath: out + "/kernels.cl"))
        XCTAssertThrowsError(try ArtifactDirectory(verifying: out)) { e in
            guard case ArtifactError.hashMismatch(_, let file, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(file, "kernels.cl")
            XCTAssertTrue("\(e)".contains("kernels.cl"))
        }
    }

    func testMissingFileIsNamed() throws {
        let out = folder + "/m.qc"
        try write(out, plan: samplePlan())
        try FileManager.default.removeItem(atPath: out + "/weights.bin")
        XCTAssertThrowsError(try ArtifactDirectory(verifying: out)) { e in
            XCTAssertEqual(e as? ArtifactError, .missingFile(directory: out, file: "weights.bin"))
        }
    }

    func testPlanFromAnotherVersionIsRefused() throws {
        let out = folder + "/m.qc"
        var plan = samplePlan()
        plan.formatVersion = Plan.currentFormatVersion + 1
        try write(out, plan: plan)
        XCTAssertThrowsError(try ArtifactDirectory(verifying: out)) { e in
            guard case ArtifactError.versionMismatch(_, let file, let found, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(file, "plan.json")
            XCTAssertEqual(found, Plan.currentFormatVersion + 1)
        }
    }

    func testWritingOverAFileIsRefused() throws {
        let out = folder + "/file"
        FileManager.default.createFile(atPath: out, contents: Data([1]))
        XCTAssertThrowsError(try write(out, plan: samplePlan())) { e in
            XCTAssertEqual(e as? ArtifactError, .notADirectory(path: out))
        }
        XCTAssertEqual(FileManager.default.contents(atPath: out), Data([1]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["file"])
    }
}
