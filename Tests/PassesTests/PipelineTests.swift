import IR
import Passes
import XCTest

final class PipelineTests: XCTestCase {
    func testPipelineTextRoundTrips() throws {
        let manager = PassManager(passes: try PassRegistry.pipeline(" dce , dce{} "))
        XCTAssertEqual(manager.pipelineText, "dce,dce")
    }

    /// What `calibrate(method=auto)` leaves out when it judges candidate ranges: the passes
    /// that decide or correct weights, and nothing that changes how activations are quantized.
    func testWeightOnlyPassesAreTheSensitivityAllocationRoundingAndBiasCorrectionPasses() {
        XCTAssertEqual(Set(PassRegistry.all.filter { $0.decidesWeightsOnly }.map { $0.name }),
                       ["layer-hessian", "measured", "hessian-trace", "curvature", "weight-magnitude", "activation-variance",
                        "fisher", "sensitivity", "allocate", "round", "bias-correct"])
    }

    func testUnknownPassListsTheValidOnes() {
        XCTAssertThrowsError(try PassRegistry.pipeline("dce,fold-everything")) {
            XCTAssertEqual("\($0)", "pipeline: unknown pass 'fold-everything'; the passes are: canonicalize, calibrate, fold-constants, fold-batchnorm, remove-identity, dce, quantize, layer-hessian, measured, hessian-trace, curvature, weight-magnitude, activation-variance, fisher, sensitivity, allocate, round, bias-correct, insert-qdq")
        }
    }

    func testUnknownOptionIsNamed() {
        XCTAssertThrowsError(try PassRegistry.pipeline("dce(aggressive=true)")) {
            XCTAssertEqual("\($0)", "pipeline: pass 'dce' has no option 'aggressive'; it takes none")
        }
    }

    func testMalformedTextIsRefused() {
        for text in ["", "dce,", "dce(x)", "dce(x=1", ",dce", "dce;dce"] {
            XCTAssertThrowsError(try PassRegistry.pipeline(text), "'\(text)' should not parse")
        }
    }
}
