import Foundation
import IR
import ONNX
import XCTest

/// Issue 8 item 8: a SIGKILL at any moment, or a full disk, leaves the old artifact or the
/// complete new one at the output path, never a partial file, and no temporary a rerun
/// would trip on (AtomicFile: unnamed O_TMPFILE temporaries, freed by the kernel).
final class FaultTests: CLITestCase {
    /// A float model with one 96 MiB initializer, so writing it takes a while.
    func largeModel(in folder: URL) throws -> String {
        let count = 24 << 20
        let weights = ByteBuffer(byteCount: count * 4) { out in
            let f = out.bindMemory(to: Float.self)
            for i in 0..<count { f[i] = Float(i % 977) * 0.001 }
        }
        var graph = Graph(name: "big", inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, [.fixed(count)])))],
                          outputs: [ValueInfo(name: "y", type: .tensor(TensorType(.float32, [.fixed(count)])))])
        graph.initializers["w"] = Tensor(elementType: .float32, shape: [count], data: .bytes(weights), name: "w")
        graph.nodes = [Node(name: "add0", opType: "Add", inputs: ["x", "w"], outputs: ["y"])]
        let path = folder.appendingPathComponent("big.onnx").path
        try ONNXExporter.write(Model(graph: graph), to: path)
        return path
    }

    func testSIGKILLWhileWritingLeavesTheOldOrTheNewArtifact() throws {
        let dir = try temporaryFolder()
        let big = try largeModel(in: dir)
        // The complete new artifact, from a run nobody kills.
        let reference = dir.appendingPathComponent("reference.onnx")
        XCTAssertEqual(try run(["export", big, "-o", reference.path]).status, 0)
        let new = try Data(contentsOf: reference)
        let old = try Data(contentsOf: URL(fileURLWithPath: mlp))
        let outDir = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        let out = outDir.appendingPathComponent("model.onnx")

        var outcomes: [String] = []
        var delay = 0.02
        while delay < 60 {
            try old.write(to: out)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = ["export", big, "-o", out.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            // Mid-write: quantc holds an open temporary in the output folder (an O_TMPFILE
            // shows in /proc as "FOLDER/#INODE (deleted)").
            let writing = openFiles(of: p.processIdentifier).contains { $0.hasPrefix(outDir.path + "/") && $0 != out.path }
            let killed = p.isRunning
            if killed { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            let now = try Data(contentsOf: out)
            let state = now == old ? "old" : now == new ? "new" : "PARTIAL (\(now.count) bytes)"
            outcomes.append(String(format: "%.2fs: %@%@ %@", delay, killed ? "killed" : "finished", writing && killed ? " while writing," : "", state))
            XCTAssertTrue(state == "old" || state == "new", "after \(delay) s: \(state)")
            // Nothing beside it: the temporary had no name, so the kernel freed it.
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outDir.path), ["model.onnx"], "after \(delay) s")
            if !killed {
                XCTAssertEqual(state, "new")
                break
            }
            delay *= 1.25
        }
        print("SIGKILL outcomes: " + outcomes.joined(separator: "; "))
        XCTAssertTrue(outcomes.contains { $0.contains("killed while writing, old") }, "no kill landed while writing: \(outcomes)")
        XCTAssertTrue(outcomes.last?.contains("finished new") == true, "\(outcomes)")
    }

    /// What the process's open file descriptors point at (/proc/PID/fd).
    func openFiles(of pid: Int32) -> [String] {
        let dir = "/proc/\(pid)/fd"
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)") }
    }

    /// A named temporary left by a run killed where O_TMPFILE is missing is removed by the next
    /// write to the same path (its process is gone); a live process's temporary is kept.
    func testStaleNamedTemporariesAreRemovedByTheNextWrite() throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("model.onnx")
        // A pid that does not exist: beyond the kernel's pid_max.
        let stale = dir.appendingPathComponent(".model.onnx.tmp-2147483646-abcdef")
        let live = dir.appendingPathComponent(".model.onnx.tmp-\(getpid())-abcdef")
        try Data([1, 2, 3]).write(to: stale)
        try Data([1, 2, 3]).write(to: live)
        XCTAssertEqual(try run(["export", mlp, "-o", out.path]).status, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       [live.lastPathComponent, "model.onnx"])
    }

    /// A full disk: exit 73, one line naming the file and ENOSPC, the old artifact intact, no
    /// temporary left. Needs root for `mount -t tmpfs`; skipped otherwise.
    func testFullDiskKeepsTheOldArtifact() throws {
        guard getuid() == 0 else { throw XCTSkip("not root: cannot mount a tmpfs for the full-disk test") }
        let mount = try temporaryFolder()
        let m = try run(command: "/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount.path])
        guard m.status == 0 else { throw XCTSkip("mount -t tmpfs failed (\(m.stderr)): no permission to mount here") }
        defer { _ = try? run(command: "/bin/umount", [mount.path]) }

        let out = mount.appendingPathComponent("model.onnx")
        let old = try Data(contentsOf: URL(fileURLWithPath: mlp))  // 27 KB
        try old.write(to: out)
        let dir = try temporaryFolder()
        let big = try largeModel(in: dir)  // 96 MiB: cannot fit
        let digits = Self.root.appendingPathComponent("models/digits")
        let cases: [(name: String, args: [String], fill: Bool)] = [
            ("export", ["export", big, "-o", out.path], false),
            // A quantized model of a few KB into the last free page.
            ("quantize", ["quantize", mlp, "--calibration", digits.appendingPathComponent("calib_x.npy").path,
                          "--no-cache", "--eval-samples", "16", "-q", "-o", out.path], true),
        ]
        for c in cases {
            let filler = mount.appendingPathComponent("filler")
            if c.fill {
                // Leave one 4 KiB page free (tmpfs counts pages): 256 KiB − 28 KiB (old) − 4 KiB.
                try Data(count: (256 - 28 - 4) << 10).write(to: filler)
            }
            let r = try run(c.args)
            XCTAssertEqual(r.status, 73, "\(c.name): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(c.name): not one line: \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("error: \(out.path): cannot write"), r.stderr)
            XCTAssertTrue(r.stderr.contains("No space left on device (ENOSPC)"), r.stderr)
            XCTAssertEqual(try Data(contentsOf: out), old, "\(c.name): the old artifact changed")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount.path).sorted(),
                           c.fill ? ["filler", "model.onnx"] : ["model.onnx"], c.name)
            try? FileManager.default.removeItem(at: filler)
        }
    }

    func run(command: String, _ args: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: "", stderr: String(decoding: e, as: UTF8.self))
    }
}
