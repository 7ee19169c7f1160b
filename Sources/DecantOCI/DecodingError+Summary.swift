import Foundation

extension DecodingError {
    /// What is wrong and where, for a person: `layers[0].digest: not a sha256 digest: …`, rather
    /// than the whole error value. A document that is not JSON at all says so.
    public var summary: String {
        switch self {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "not valid JSON" + ((context.underlyingError as NSError?).map { " (\($0.localizedDescription))" } ?? "")
        case .dataCorrupted(let context):
            return Self.path(context.codingPath) + ": " + context.debugDescription
        case .keyNotFound(let key, let context):
            return Self.path(context.codingPath + [key]) + ": missing"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return Self.path(context.codingPath) + ": not \(Self.name(of: type)) (\(context.debugDescription))"
        @unknown default:
            return "\(self)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "the document" : text
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "a boolean"
        default: "a \(type)"
        }
    }
}
