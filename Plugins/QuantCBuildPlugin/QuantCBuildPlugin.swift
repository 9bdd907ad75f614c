import Foundation
import PackagePlugin

/// Builds every `*.recipe.json` in a target with `quantc build`: the quantized model and its
/// report become build products (resources of the target, reachable through `Bundle.module`).
///
/// SwiftPM reruns the command only when a declared input changes, so the plugin declares what
/// the recipe names: the recipe, the model (and `MODEL.data` if present), every calibration and
/// test file (all files of a data folder) and the labels. External data under other names is
/// not seen here; `quantc build --print-deps` lists it for build systems that read depfiles.
@main
struct QuantCBuildPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let quantc = try context.tool(named: "quantc")
        var commands: [Command] = []
        for file in target.sourceFiles where file.url.lastPathComponent.hasSuffix(".recipe.json") {
            let recipe = file.url
            let name = String(recipe.lastPathComponent.dropLast(".recipe.json".count))
            let outDir = context.pluginWorkDirectoryURL.appendingPathComponent(name)
            let plan = try RecipePlan(recipe: recipe, outputDirectory: outDir)
            commands.append(.buildCommand(
                displayName: "quantc build \(recipe.lastPathComponent)",
                executable: quantc.url,
                arguments: ["build", recipe.path, "--output-dir", outDir.path, "-q"],
                inputFiles: plan.inputs,
                outputFiles: plan.outputs))
        }
        return commands
    }
}

/// The files a recipe names, read the way `quantc build` reads them (paths relative to the recipe).
struct RecipePlan {
    var inputs: [URL]
    var outputs: [URL]

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    init(recipe: URL, outputDirectory: URL) throws {
        let data = try Data(contentsOf: recipe)
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Problem(description: "\(recipe.path): a recipe is a JSON object")
        }
        let base = recipe.deletingLastPathComponent()
        func resolve(_ p: String, _ b: URL) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : b.appendingPathComponent(p) }
        var inputs = [recipe]
        if let model = json["model"] as? String {
            let m = resolve(model, base)
            inputs.append(m)
            let data = URL(fileURLWithPath: m.path + ".data")
            if FileManager.default.fileExists(atPath: data.path) { inputs.append(data) }
        }
        let gate = json["gate"] as? [String: Any] ?? [:]
        for key in ["calibration"] { if let p = json[key] as? String { inputs += Self.files(resolve(p, base)) } }
        for key in ["test", "labels"] { if let p = gate[key] as? String { inputs += Self.files(resolve(p, base)) } }
        let outs = json["outputs"] as? [String: Any] ?? [:]
        guard let model = outs["model"] as? String else { throw Problem(description: "\(recipe.path): missing key 'outputs.model'") }
        let modelOut = resolve(model, outputDirectory)
        let stem = modelOut.path.hasSuffix(".onnx") ? String(modelOut.path.dropLast(5)) : modelOut.path
        var outputs = [modelOut, (outs["report"] as? String).map { resolve($0, outputDirectory) } ?? URL(fileURLWithPath: stem + ".report.json")]
        if json["pareto"] as? Bool == true {
            outputs.append((outs["pareto"] as? String).map { resolve($0, outputDirectory) } ?? URL(fileURLWithPath: stem + ".pareto.csv"))
        }
        self.inputs = inputs
        self.outputs = outputs
    }

    /// A file, or every file under a folder.
    static func files(_ url: URL) -> [URL] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else { return [url] }
        let all = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return all.filter { !$0.hasDirectoryPath }.sorted { $0.path < $1.path }
    }
}
