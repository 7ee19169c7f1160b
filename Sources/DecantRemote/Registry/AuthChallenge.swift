/// A `WWW-Authenticate` challenge: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
struct AuthChallenge: Sendable, Equatable {
    enum Scheme: String, Sendable {
        case basic
        case bearer
    }

    var scheme: Scheme
    var parameters: [String: String]

    var realm: String? { parameters["realm"] }
    var service: String? { parameters["service"] }
    var scope: String? { parameters["scope"] }

    /// The first challenge of a scheme Decant speaks, or `nil`.
    init?(header: String) {
        let trimmed = header.trimmingWhitespace()
        guard let space = trimmed.firstIndex(of: " ") ?? (trimmed.isEmpty ? nil : trimmed.endIndex),
              let scheme = Scheme(rawValue: trimmed[..<space].lowercased()) else { return nil }
        self.scheme = scheme
        self.parameters = Self.parameters(String(trimmed[space...]))
    }

    /// `key="value", key=value` pairs; quoted values may hold commas and escaped quotes.
    private static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var index = text.startIndex
        func skip(_ characters: Set<Character>) {
            while index < text.endIndex && characters.contains(text[index]) { index = text.index(after: index) }
        }
        while index < text.endIndex {
            skip([" ", ","])
            let keyStart = index
            while index < text.endIndex && text[index] != "=" { index = text.index(after: index) }
            guard index < text.endIndex else { break }
            let key = text[keyStart..<index].trimmingWhitespace().lowercased()
            index = text.index(after: index)
            var value = ""
            if index < text.endIndex && text[index] == "\"" {
                index = text.index(after: index)
                while index < text.endIndex && text[index] != "\"" {
                    if text[index] == "\\" { index = text.index(after: index); if index == text.endIndex { break } }
                    value.append(text[index])
                    index = text.index(after: index)
                }
                if index < text.endIndex { index = text.index(after: index) }
            } else {
                while index < text.endIndex && text[index] != "," { value.append(text[index]); index = text.index(after: index) }
                value = value.trimmingWhitespace()
            }
            result[key] = value
        }
        return result
    }
}
