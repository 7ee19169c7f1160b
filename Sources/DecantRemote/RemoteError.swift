/// An image source that cannot be read, or holds something wrong.
public struct RemoteError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case notFound = "not-found"
        case invalidReference = "invalid-reference"
        case digestMismatch = "digest-mismatch"
        case unsupported
        case io
        /// The registry refused the credentials, or there were none and it wants some.
        case unauthorized
        /// The registry could not be reached or kept failing (connection errors, 429, 5xx) after
        /// every retry.
        case unavailable
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
