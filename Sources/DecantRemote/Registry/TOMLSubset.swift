/// The part of TOML that containerd's `hosts.toml` files use: `[table."quoted key"]` headers,
/// `key = value` with strings, booleans, integers and arrays of strings, and comments.
///
/// Hand-written because the Swift TOML library in reach (TOMLKit) depends on a package that is not
/// available to this project; anything outside the subset is an error naming the line rather than
/// a silent misreading.
struct TOMLSubset {
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case integer(Int)
        case strings([String])
    }

    /// One `key = value` line: the table path it sits under and its key.
    struct Entry: Equatable {
        var table: [String]
        var key: String
        var value: Value
        var line: Int
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    private(set) var entries: [Entry] = []

    init(parsing text: String) throws(ParseError) {
        var table: [String] = []
        var pending = ""
        var pendingLine = 0
        // TOML lines end in LF or CRLF; Swift reads "\r\n" as one Character, not as a "\n".
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (number, raw) in lines.enumerated() {
            let line = pending.isEmpty ? Self.stripComment(Substring(raw)) : pending + " " + Self.stripComment(Substring(raw))
            if pending.isEmpty { pendingLine = number + 1 }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { pending = ""; continue }
            // A multi-line array continues until its brackets balance.
            if trimmed.contains("=") && Self.bracketDepth(trimmed) > 0 { pending = trimmed; continue }
            pending = ""
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), !trimmed.hasPrefix("[[") else {
                    throw ParseError(line: pendingLine, message: "unsupported table header \(trimmed)")
                }
                table = try Self.keyPath(String(trimmed.dropFirst().dropLast()), line: pendingLine)
                continue
            }
            guard let equals = Self.firstUnquoted("=", in: trimmed) else {
                throw ParseError(line: pendingLine, message: "expected key = value, found \(trimmed)")
            }
            let keys = try Self.keyPath(String(trimmed[..<equals]), line: pendingLine)
            let value = try Self.value(String(trimmed[trimmed.index(after: equals)...]).trimmingWhitespace(), line: pendingLine)
            entries.append(Entry(table: table + keys.dropLast(), key: keys.last!, value: value, line: pendingLine))
        }
        if !pending.isEmpty { throw ParseError(line: pendingLine, message: "unterminated array") }
    }

    private static func stripComment(_ line: Substring) -> String {
        guard let hash = firstUnquoted("#", in: String(line)) else { return String(line) }
        return String(String(line)[..<hash])
    }

    private static func bracketDepth(_ text: String) -> Int {
        var depth = 0
        var quote: Character?
        for character in text {
            if let open = quote { if character == open { quote = nil }; continue }
            switch character {
            case "\"", "'": quote = character
            case "[": depth += 1
            case "]": depth -= 1
            default: break
            }
        }
        return depth
    }

    private static func firstUnquoted(_ target: Character, in text: String) -> String.Index? {
        var quote: Character?
        var escaped = false
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
                continue
            }
            if character == "\"" || character == "'" { quote = character; continue }
            if character == target { return index }
        }
        return nil
    }

    /// `a."b.c".d` → `["a", "b.c", "d"]`.
    private static func keyPath(_ text: String, line: Int) throws(ParseError) -> [String] {
        var keys: [String] = []
        var rest = Substring(text.trimmingWhitespace())
        while !rest.isEmpty {
            if rest.first == "\"" || rest.first == "'" {
                let (key, after) = try quoted(rest, line: line)
                keys.append(key)
                rest = after
            } else {
                let end = rest.firstIndex(of: ".") ?? rest.endIndex
                let key = rest[..<end].trimmingWhitespace()
                guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                    throw ParseError(line: line, message: "invalid key \(String(rest[..<end]).debugDescription)")
                }
                keys.append(key)
                rest = rest[end...]
            }
            rest = Substring(String(rest).trimmingWhitespace())
            if rest.first == "." { rest = Substring(String(rest.dropFirst()).trimmingWhitespace()) } else if !rest.isEmpty {
                throw ParseError(line: line, message: "invalid key path \(text.debugDescription)")
            }
        }
        guard !keys.isEmpty else { throw ParseError(line: line, message: "empty key") }
        return keys
    }

    private static func value(_ text: String, line: Int) throws(ParseError) -> Value {
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        if let number = Int(text.replacingUnderscores()) { return .integer(number) }
        if text.first == "\"" || text.first == "'" {
            let (string, rest) = try quoted(Substring(text), line: line)
            guard rest.trimmingWhitespace().isEmpty else { throw ParseError(line: line, message: "unexpected text after a string: \(rest)") }
            return .string(string)
        }
        if text.first == "[" && text.last == "]" {
            var items: [String] = []
            var rest = Substring(String(text.dropFirst().dropLast()).trimmingWhitespace())
            while !rest.isEmpty {
                guard rest.first == "\"" || rest.first == "'" else {
                    throw ParseError(line: line, message: "only arrays of strings are supported, found \(text)")
                }
                let (item, after) = try quoted(rest, line: line)
                items.append(item)
                rest = Substring(String(after).trimmingWhitespace())
                if rest.first == "," { rest = Substring(String(rest.dropFirst()).trimmingWhitespace()) } else if !rest.isEmpty {
                    throw ParseError(line: line, message: "expected , in array \(text)")
                }
            }
            return .strings(items)
        }
        throw ParseError(line: line, message: "unsupported value \(text)")
    }

    /// A basic ("…", with escapes) or literal ('…') string at the start of `text`, and what follows it.
    private static func quoted(_ text: Substring, line: Int) throws(ParseError) -> (String, Substring) {
        let quote = text.first!
        var result = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == quote { return (result, text[text.index(after: index)...]) }
            if character == "\\" && quote == "\"" {
                index = text.index(after: index)
                guard index < text.endIndex else { break }
                switch text[index] {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "\\": result.append("\\")
                case "\"": result.append("\"")
                default: throw ParseError(line: line, message: "unsupported escape \\\(text[index])")
                }
            } else {
                result.append(character)
            }
            index = text.index(after: index)
        }
        throw ParseError(line: line, message: "unterminated string")
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }

    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
