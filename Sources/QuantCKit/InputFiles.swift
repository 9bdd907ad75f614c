import Foundation
import Interpreter
import IR

/// The files a conversion reads, for build systems: `quantc build --print-deps` and the depfile.
public enum InputFiles {
    /// The model file and every external-data file its tensors live in (subgraphs included).
    public static func of(model: Model, at path: String) -> [String] {
        var files = [path]
        model.graph.walk { g, _ in
            for t in g.initializers.values {
                if case .bytes(let b) = t.data, let mapped = b.owner as? MappedFile, mapped.path != path, !files.contains(mapped.path) {
                    files.append(mapped.path)
                }
            }
        }
        return files
    }

    /// Every file a sample source reads, and the folder it lists (a build system that watches
    /// the folder reruns when a sample file is added or removed).
    public static func of(samples: SampleSource, given path: String) -> [String] {
        var files: [String] = []
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { files.append(samples.folder) }
        for f in samples.files {
            let full = samples.folder + "/" + f
            if samples.layout == .testDataSets {
                let inner = (try? FileManager.default.contentsOfDirectory(atPath: full))?.filter { $0.hasSuffix(".pb") }.sorted() ?? []
                files.append(full)
                files += inner.map { full + "/" + $0 }
            } else {
                files.append(full)
            }
        }
        return files
    }

    /// Make syntax: spaces and `#` escaped with a backslash, `$` doubled.
    public static func makeEscaped(_ path: String) -> String {
        var out = ""
        for c in path {
            switch c {
            case " ": out += "\\ "
            case "#": out += "\\#"
            case "$": out += "$$"
            default: out.append(c)
            }
        }
        return out
    }

    /// A Make depfile rule `out1 out2: in1 in2 ...`, one input per continued line.
    public static func depfile(outputs: [String], inputs: [String]) -> String {
        outputs.map(makeEscaped).joined(separator: " ") + ":" + inputs.map { " \\\n  " + makeEscaped($0) }.joined() + "\n"
    }
}
