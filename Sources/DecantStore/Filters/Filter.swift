import Foundation

/// A containerd-style filter: clauses joined by `,` must all hold; a list of filters matches when
/// any one does (`ctr ... ls 'labels."a"==b,kind==committed'`).
///
/// A clause is `FIELD`, `FIELD==VALUE`, `FIELD!=VALUE` or `FIELD~=REGEX`; a field is a dotted path
/// whose parts may be quoted, like `labels."containerd.io/gc.root"`.
public struct Filter: Sendable, CustomStringConvertible {
    enum Operator: Sendable {
        case present
        case equal(String)
        case notEqual(String)
        case matches(String)
    }

    struct Clause: Sendable {
        var field: String
        var op: Operator
    }

    let clauses: [Clause]
    public let description: String

    /// Parses one filter; a clause with an empty field or an invalid regex is `invalidArgument`.
    public init(_ text: String) throws(StoreError) {
        description = text
        var clauses: [Clause] = []
        for part in Self.splitClauses(text) where !part.isEmpty {
            let (fieldText, op) = try Self.parseOperator(part)
            let field = Self.unquotePath(fieldText)
            guard !field.isEmpty else { throw StoreError(.invalidArgument, "filter \(text.debugDescription): empty field") }
            if case .matches(let pattern) = op, (try? NSRegularExpression(pattern: pattern)) == nil {
                throw StoreError(.invalidArgument, "filter \(text.debugDescription): invalid regular expression \(pattern.debugDescription)")
            }
            clauses.append(Clause(field: field, op: op))
        }
        self.clauses = clauses
    }

    /// Whether the object whose flattened fields are `fields` passes this filter.
    public func matches(_ fields: [String: String]) -> Bool {
        clauses.allSatisfy { clause in
            let value = fields[clause.field]
            switch clause.op {
            case .present: return value != nil
            case .equal(let wanted): return value == wanted
            case .notEqual(let unwanted): return value != unwanted
            case .matches(let pattern):
                guard let value, let regex = try? NSRegularExpression(pattern: pattern) else { return false }
                return regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
            }
        }
    }

    /// No filters match everything; otherwise any filter matching is enough.
    public static func matches(_ filters: [Filter], _ fields: [String: String]) -> Bool {
        filters.isEmpty || filters.contains { $0.matches(fields) }
    }

    private static func splitClauses(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if character == "," && !quoted {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }

    private static func parseOperator(_ clause: String) throws(StoreError) -> (String, Operator) {
        var quoted = false
        var index = clause.startIndex
        while index < clause.endIndex {
            let character = clause[index]
            if character == "\"" { quoted.toggle() }
            if !quoted, character == "=" || character == "!" || character == "~" {
                let next = clause.index(after: index)
                guard next < clause.endIndex, clause[next] == "=" else { break }
                let field = String(clause[..<index])
                let value = unquote(String(clause[clause.index(after: next)...]))
                switch character {
                case "=": return (field, .equal(value))
                case "!": return (field, .notEqual(value))
                default: return (field, .matches(value))
                }
            }
            index = clause.index(after: index)
        }
        if clause.contains("=") || clause.contains("~") {
            throw StoreError(.invalidArgument, "filter clause \(clause.debugDescription): expected ==, != or ~=")
        }
        return (clause, .present)
    }

    /// `labels."a.b"` → `labels.a.b`, the key under which ``ContentStore`` and the snapshotters
    /// flatten labels.
    private static func unquotePath(_ path: String) -> String {
        path.replacingOccurrences(of: "\"", with: "").trimmingCharacters(in: .whitespaces)
    }

    private static func unquote(_ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.count >= 2, trimmed.hasPrefix("\""), trimmed.hasSuffix("\"") {
            return String(trimmed.dropFirst().dropLast())
        }
        return trimmed
    }
}

/// containerd's label update by field paths.
enum LabelUpdate {
    /// Without field paths `labels` replaces `existing`; with them only `labels` (all of them) or
    /// `labels.KEY` change, an empty value removing the label.
    static func apply(_ labels: [String: String], fieldPaths: [String], to existing: [String: String]) throws(StoreError) -> [String: String] {
        if fieldPaths.isEmpty { return labels.filter { !$0.value.isEmpty } }
        var result = existing
        for path in fieldPaths {
            if path == "labels" {
                result = labels.filter { !$0.value.isEmpty }
            } else if path.hasPrefix("labels.") {
                let key = String(path.dropFirst("labels.".count))
                if let value = labels[key], !value.isEmpty { result[key] = value } else { result[key] = nil }
            } else {
                throw StoreError(.invalidArgument, "cannot update field \(path.debugDescription): only labels can change")
            }
        }
        return result
    }
}
