import IR
import XCTest

final class VerifierTests: XCTestCase {
    func graph(_ nodes: [Node], inputs: [String] = ["x"], outputs: [String] = ["y"]) -> Graph {
        Graph(name: "g", inputs: inputs.map { ValueInfo(name: $0, type: .tensor(TensorType(.float32, fixed: [2]))) },
              outputs: outputs.map { ValueInfo(name: $0, type: nil) }, nodes: nodes)
    }

    func testWellFormedGraphPasses() throws {
        try Verifier.verify(graph: graph([
            Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"]),
            Node(name: "b", opType: "Neg", inputs: ["h"], outputs: ["y"]),
        ]))
    }

    func testUndefinedInputIsNamed() {
        XCTAssertThrowsError(try Verifier.verify(graph: graph([Node(name: "a", opType: "Add", inputs: ["x", "ghost"], outputs: ["y"])]))) {
            XCTAssertEqual("\($0)", "graph 'g': node 'a' (Add): input 'ghost' is never defined before this node (no graph input, initializer or earlier node output has that name)")
        }
    }

    func testDoubleAssignmentIsRefused() {
        XCTAssertThrowsError(try Verifier.verify(graph: graph([
            Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["y"]),
            Node(name: "b", opType: "Neg", inputs: ["x"], outputs: ["y"]),
        ]))) { XCTAssertTrue("\($0)".contains("node 'b' (Neg): output 'y' is already defined")) }
    }

    func testSubgraphSeesOuterValuesButMayNotRedefineThem() throws {
        let then = Graph(name: "then", outputs: [ValueInfo(name: "t", type: nil)],
                         nodes: [Node(opType: "Neg", inputs: ["h"], outputs: ["t"])])
        let bad = Graph(name: "else", outputs: [ValueInfo(name: "h", type: nil)],
                        nodes: [Node(opType: "Neg", inputs: ["x"], outputs: ["h"])])
        let ok = graph([
            Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"]),
            Node(name: "if", opType: "If", inputs: ["c"], outputs: ["y"],
                 attributes: [Attribute("then_branch", .graph(then)), Attribute("else_branch", .graph(then))]),
        ], inputs: ["x", "c"])
        try Verifier.verify(graph: ok)
        var shadowing = ok
        shadowing.nodes[1].attributes[1].value = .graph(bad)
        XCTAssertThrowsError(try Verifier.verify(graph: shadowing)) {
            XCTAssertTrue("\($0)".contains("graph 'g' > 'if.else_branch'"), "\($0)")
        }
    }

    func testDuplicateAttributeIsRefused() {
        let n = Node(name: "c", opType: "Conv", inputs: ["x"], outputs: ["y"],
                     attributes: [Attribute("group", .int(1)), Attribute("group", .int(2))])
        XCTAssertThrowsError(try Verifier.verify(graph: graph([n]))) {
            XCTAssertTrue("\($0)".contains("attribute 'group' appears twice"))
        }
    }

    func testTopologicalSortKeepsSortedGraphsAndFixesOthers() throws {
        let a = Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h"])
        let b = Node(name: "b", opType: "Neg", inputs: ["h"], outputs: ["k"])
        let c = Node(name: "c", opType: "Abs", inputs: ["x"], outputs: ["m"])
        let d = Node(name: "d", opType: "Add", inputs: ["k", "m"], outputs: ["y"])
        var g = graph([a, c, b, d])
        try g.sortTopologically()
        XCTAssertEqual(g.nodes.map(\.name), ["a", "c", "b", "d"])
        g = graph([d, b, c, a])
        try g.sortTopologically()
        XCTAssertEqual(g.nodes.map(\.name), ["c", "a", "b", "d"])
        try Verifier.verify(graph: g)
    }

    func testCycleIsNamed() {
        var g = graph([
            Node(name: "a", opType: "Add", inputs: ["x", "bo"], outputs: ["ao"]),
            Node(name: "b", opType: "Neg", inputs: ["ao"], outputs: ["bo"]),
            Node(name: "c", opType: "Neg", inputs: ["bo"], outputs: ["y"]),
        ])
        XCTAssertThrowsError(try g.sortTopologically()) {
            XCTAssertEqual("\($0)", "graph 'g': the nodes form a cycle: 'a' (Add) -> 'b' (Neg) -> 'a' (Add)")
        }
    }
}
