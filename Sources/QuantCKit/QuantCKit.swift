// QuantCKit: quantc's quantization flow as a library, the same code the `quantc` command runs.
//
// Importing QuantCKit brings in the modules its API speaks in: the IR (``Model``), the ONNX
// importer and exporter, the interpreter's sample sources, the pass pipeline and the report.
@_exported import IR
@_exported import Interpreter
@_exported import ONNX
@_exported import Passes
@_exported import Report
