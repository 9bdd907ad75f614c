import Foundation

/// Why a report file cannot be read, naming the file.
public struct ReportFileError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        case unreadable
        case notJSON
        case notAReport
        /// Written by another quantc whose report schema differs.
        case otherSchema(found: Int?, tool: String?)
        case malformed
    }
    public var path: String
    public var kind: Kind
    public var detail: String

    public var description: String {
        switch kind {
        case .otherSchema(let found, let tool):
            let by = tool.map { " (written by \($0))" } ?? ""
            let version = found.map { "report schema \($0)" } ?? "an unversioned report (schema 1)"
            return "\(path): \(version)\(by); this quantc \(QuantCInfo.version) reads report schema "
                + "\(QuantizationReport.schemaVersion): rerun `quantc quantize` with it to regenerate the report"
        default:
            return "\(path): \(detail)"
        }
    }
}

extension QuantizationReport {
    /// Reads a `report.json` of this schema version; anything else is a ``ReportFileError``.
    public static func load(path: String) throws(ReportFileError) -> QuantizationReport {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw ReportFileError(path: path, kind: .unreadable, detail: reason)
        }
        return try decode(data, path: path)
    }

    public static func decode(_ data: Data, path: String) throws(ReportFileError) -> QuantizationReport {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            let ns = error as NSError
            let why = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? "invalid JSON"
            throw ReportFileError(path: path, kind: .notJSON, detail: "not JSON: \(why)")
        }
        guard let top = object as? [String: Any] else {
            throw ReportFileError(path: path, kind: .notAReport, detail: "not a quantc report: the JSON is not an object")
        }
        let tool = top["tool"] as? String
        guard tool?.hasPrefix("quantc") == true, top["layers"] is [Any] else {
            throw ReportFileError(path: path, kind: .notAReport,
                                  detail: "not a quantc report (no \"tool\": \"quantc ...\" and \"layers\" fields; `quantc quantize` writes one)")
        }
        let version = top["schema_version"] as? Int
        guard version == schemaVersion else { throw ReportFileError(path: path, kind: .otherSchema(found: version, tool: tool), detail: "") }
        do {
            return try JSONDecoder().decode(QuantizationReport.self, from: data)
        } catch let e as DecodingError {
            throw ReportFileError(path: path, kind: .malformed, detail: "malformed report: \(describe(e))")
        } catch {
            throw ReportFileError(path: path, kind: .malformed, detail: "malformed report: \(error)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func where_(_ path: [CodingKey]) -> String {
            path.map { k in k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch e {
        case .keyNotFound(let key, let c):
            let at = where_(c.codingPath)
            return "missing field '\(key.stringValue)'" + (at.isEmpty ? "" : " in \(at)")
        case .typeMismatch(let type, let c): return "field \(where_(c.codingPath)): expected \(type)"
        case .valueNotFound(let type, let c): return "field \(where_(c.codingPath)): null where \(type) is needed"
        case .dataCorrupted(let c): return "field \(where_(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
