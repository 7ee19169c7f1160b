/// What a generated fixture is expected to do: `"ok"`, or `{"error": "substring"}` in the
/// fixture scripts' JSON.
public enum FixtureExpectation: Decodable, Sendable {
    case ok
    case error(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self), text == "ok" {
            self = .ok
            return
        }
        struct ErrorExpectation: Decodable { var error: String }
        self = .error(try container.decode(ErrorExpectation.self).error)
    }

    public var isOK: Bool {
        if case .ok = self { return true }
        return false
    }
}
