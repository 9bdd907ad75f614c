import Foundation

/// A `quantc build` recipe: one JSON file holding everything a conversion needs, so a build
/// system runs one command. Relative paths are relative to the recipe's folder.
///
/// ```json
/// {
///   "model": "digits_mlp.onnx",
///   "target": "onnx",
///   "calibration": "digits/calib_x.npy",
///   "weights": "int8",
///   "outputs": { "model": "out/digits_mlp.int8.onnx" },
///   "gate": { "test": "digits/test_x.npy", "labels": "digits/test_y.npy", "metric": "accuracy", "max-drop": 1.0 }
/// }
/// ```
///
/// The other top-level keys are the options of `quantc quantize` under their flag names
/// (``Recipe/optionKeys``). Unknown keys and values of the wrong type are errors naming the key
/// and the recipe file.
public struct Recipe: Sendable, Equatable {
    /// What a recipe builds.
    public enum Target: String, Sendable, CaseIterable {
        /// The INT8/INT4 QDQ ONNX model and its report.
        case onnx
    }

    /// Targets that are planned but not built by recipes yet, with why.
    public static let plannedTargets = ["gfx803": "the GCN code generator is not wired to recipes yet (issue 7)"]

    /// The accuracy gate: the build fails (exit 3, nothing written) when the quantized model's
    /// metric on the test data is more than ``maxDrop`` points below the float model's.
    public struct Gate: Sendable, Equatable {
        /// The metric compared.
        public enum Metric: String, Sendable, CaseIterable {
            /// Top-1 accuracy against ``Gate/labels`` (needs labels).
            case accuracy
            /// Top-1 agreement of the first class-score output with the float model.
            case top1Agreement = "top-1-agreement"
        }
        /// Test samples (folder or `.npy`/`.npz` file), absolute.
        public var test: String
        /// Class labels of the test samples, absolute.
        public var labels: String?
        /// The metric; default accuracy with labels, else top-1 agreement.
        public var metric: Metric
        /// Largest allowed drop, in points (percent).
        public var maxDrop: Double
    }

    /// The recipe file, as given.
    public var path: String
    /// The float model, absolute.
    public var model: String
    /// What to build.
    public var target: Target
    /// The quantize options (data paths absolute).
    public var options: QuantizeOptions
    /// Where to write (absolute).
    public var outputs: QuantizationOutputs
    /// The accuracy gate, if any.
    public var gate: Gate?

    /// The top-level keys that carry quantize options, and their JSON types.
    public static let optionKeys: [(key: String, type: String)] = [
        ("calibration", "string"), ("calibration-random", "integer"), ("pipeline", "string"), ("method", "string"),
        ("weights", "string"), ("rounding", "string"), ("bias-correction", "boolean"), ("int4-format", "string"),
        ("exclude", "array of strings"), ("budget", "string"), ("keep", "array of strings"), ("solver", "string"),
        ("pareto", "boolean"), ("eval-samples", "integer"), ("threads", "integer"), ("cache", "boolean"), ("cache-dir", "string"),
    ]
    static let topKeys = ["model", "target", "outputs", "gate"] + optionKeys.map(\.key)
    static let outputKeys = ["model", "report", "pareto"]
    static let gateKeys = ["test", "labels", "metric", "max-drop"]

    /// Reads and checks the recipe at `path`. `outputDirectory` replaces the recipe's folder as
    /// the base of relative output paths (the SwiftPM plugin builds into its work folder).
    public static func load(path: String, outputDirectory: String? = nil) throws(QuantCError) -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw QuantCError(.badInput, "\(path): cannot read the recipe (\(String(cString: strerror(errno))))")
        }
        return try parse(data, path: path, outputDirectory: outputDirectory)
    }

    /// Checks recipe JSON read from `path` (only used to resolve relative paths and name the file in errors).
    public static func parse(_ data: Data, path: String, outputDirectory: String? = nil) throws(QuantCError) -> Recipe {
        func bad(_ m: String) -> QuantCError { QuantCError(.badInput, "\(path): \(m)") }
        let json: JSONValue
        do { json = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw bad("not valid JSON: \(Self.describe(error))")
        }
        guard case .object(let top) = json else { throw bad("a recipe is a JSON object, found \(json.typeName)") }
        let base = folder(of: path)
        let r = Reader(path: path)
        try r.checkKeys(top, allowed: topKeys, in: nil)

        guard let modelPath = try r.string(top, "model") else { throw bad("missing key 'model' (the ONNX model to quantize)") }
        let targetName = try r.string(top, "target") ?? Target.onnx.rawValue
        guard let target = Target(rawValue: targetName) else {
            let known = Target.allCases.map(\.rawValue).joined(separator: ", ")
            if let why = plannedTargets[targetName] { throw bad("key 'target': '\(targetName)' cannot be built yet: \(why); the targets are: \(known)") }
            throw bad("key 'target': unknown target '\(targetName)'; the targets are: \(known)")
        }

        var o = QuantizeOptions()
        o.calibration = try r.string(top, "calibration").map { resolve($0, base) }
        o.calibrationRandom = try r.int(top, "calibration-random")
        o.pipeline = try r.string(top, "pipeline")
        o.method = try r.string(top, "method")
        o.weights = try r.string(top, "weights")
        o.rounding = try r.string(top, "rounding")
        o.biasCorrection = try r.bool(top, "bias-correction") ?? true
        o.int4Format = try r.string(top, "int4-format")
        o.exclude = try r.strings(top, "exclude") ?? []
        o.budget = try r.string(top, "budget")
        o.keep = try r.strings(top, "keep") ?? []
        o.solver = try r.string(top, "solver")
        o.pareto = try r.bool(top, "pareto") ?? false
        o.evalSamples = try r.int(top, "eval-samples") ?? 0
        o.threads = try r.int(top, "threads") ?? o.threads
        let cacheDir = try r.string(top, "cache-dir").map { resolve($0, base) }
        if try r.bool(top, "cache") == false {
            if cacheDir != nil { throw bad("key 'cache-dir' names a cache but key 'cache' is false") }
            o.cacheDirectory = nil
        } else if let cacheDir {
            o.cacheDirectory = cacheDir
        }

        guard let outs = top["outputs"] else { throw bad("missing key 'outputs' (at least {\"model\": \"OUT.onnx\"})") }
        guard case .object(let outputs) = outs else { throw bad("key 'outputs': expected an object, found \(outs.typeName)") }
        try r.checkKeys(outputs, allowed: outputKeys, in: "outputs")
        let outBase = outputDirectory ?? base
        guard let outModel = try r.string(outputs, "model", in: "outputs") else { throw bad("missing key 'outputs.model' (the quantized model to write)") }
        let out = QuantizationOutputs(model: resolve(outModel, outBase),
                                      report: try r.string(outputs, "report", in: "outputs").map { resolve($0, outBase) },
                                      pareto: try r.string(outputs, "pareto", in: "outputs").map { resolve($0, outBase) })

        var gate: Gate?
        if let g = top["gate"] {
            guard case .object(let g) = g else { throw bad("key 'gate': expected an object, found \(g.typeName)") }
            try r.checkKeys(g, allowed: gateKeys, in: "gate")
            guard let test = try r.string(g, "test", in: "gate") else { throw bad("missing key 'gate.test' (the test samples the gate measures on)") }
            guard let maxDrop = try r.double(g, "max-drop", in: "gate") else { throw bad("missing key 'gate.max-drop' (the largest allowed drop, in points)") }
            if !(maxDrop >= 0) { throw bad("key 'gate.max-drop': must be a non-negative number of points, found \(maxDrop)") }
            let labels = try r.string(g, "labels", in: "gate").map { resolve($0, base) }
            let metric: Gate.Metric
            if let name = try r.string(g, "metric", in: "gate") {
                guard let m = Gate.Metric(rawValue: name) else {
                    throw bad("key 'gate.metric': unknown metric '\(name)'; the metrics are: \(Gate.Metric.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                metric = m
            } else {
                metric = labels == nil ? .top1Agreement : .accuracy
            }
            if metric == .accuracy, labels == nil { throw bad("key 'gate.metric': accuracy needs key 'gate.labels'") }
            gate = Gate(test: resolve(test, base), labels: labels, metric: metric, maxDrop: maxDrop)
            o.test = gate!.test
            o.labels = labels
            // With the sweep, the gate picks the smallest point within the drop.
            if o.pareto { o.maxDrop = maxDrop }
        }
        do { try o.validate(spell: { "key '\($0)'" }) } catch { throw bad(error.message) }
        return Recipe(path: path, model: resolve(modelPath, base), target: target, options: o, outputs: out, gate: gate)
    }

    /// The folder of `path` ("." for a bare name).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let f = String(path[..<slash])
        return f.isEmpty ? "/" : f
    }

    /// `path` relative to `base` unless absolute.
    static func resolve(_ path: String, _ base: String) -> String {
        path.hasPrefix("/") || base == "." ? path : base + "/" + path
    }

    /// The decoder's complaint in one line.
    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let c) = error {
            return ((c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String) ?? c.debugDescription
        }
        return "\(error)"
    }

    /// Typed access to a recipe object's keys, with errors that name the key and the file.
    struct Reader {
        var path: String
        typealias Object = [String: JSONValue]

        func bad(_ key: String, _ scope: String?, _ expected: String, _ v: JSONValue) -> QuantCError {
            QuantCError(.badInput, "\(path): key '\(scope.map { "\($0)." } ?? "")\(key)': expected \(expected), found \(v.typeName)")
        }

        func checkKeys(_ object: Object, allowed: [String], in scope: String?) throws(QuantCError) {
            for key in object.keys.sorted() where !allowed.contains(key) {
                let where_ = scope.map { " in '\($0)'" } ?? ""
                throw QuantCError(.badInput, "\(path): unknown key '\(key)'\(where_); the keys are: \(allowed.joined(separator: ", "))")
            }
        }

        func string(_ o: Object, _ key: String, in scope: String? = nil) throws(QuantCError) -> String? {
            guard let v = o[key] else { return nil }
            guard case .string(let s) = v else { throw bad(key, scope, "a string", v) }
            return s
        }

        func int(_ o: Object, _ key: String, in scope: String? = nil) throws(QuantCError) -> Int? {
            guard let v = o[key] else { return nil }
            guard case .number(let n) = v, let i = Int(exactly: n) else { throw bad(key, scope, "an integer", v) }
            return i
        }

        func double(_ o: Object, _ key: String, in scope: String? = nil) throws(QuantCError) -> Double? {
            guard let v = o[key] else { return nil }
            guard case .number(let n) = v else { throw bad(key, scope, "a number", v) }
            return n
        }

        func bool(_ o: Object, _ key: String, in scope: String? = nil) throws(QuantCError) -> Bool? {
            guard let v = o[key] else { return nil }
            guard case .bool(let b) = v else { throw bad(key, scope, "true or false", v) }
            return b
        }

        func strings(_ o: Object, _ key: String, in scope: String? = nil) throws(QuantCError) -> [String]? {
            guard let v = o[key] else { return nil }
            guard case .array(let a) = v else { throw bad(key, scope, "an array of strings", v) }
            var out: [String] = []
            for e in a {
                guard case .string(let s) = e else { throw bad(key, scope, "an array of strings", v) }
                out.append(s)
            }
            return out
        }
    }
}

/// A JSON value with its type kept (a boolean is not a number), for strict recipe checking.
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
