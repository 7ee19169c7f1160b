import DecantIO

/// A store operation that failed: what kind of failure, on which object, and why.
///
/// The codes follow containerd's `errdefs` so that scripts written for `ctr` recognise them.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case notFound = "not-found"
        case alreadyExists = "already-exists"
        /// The object is in a state that forbids the operation (a snapshot with children, a key
        /// that is not active).
        case failedPrecondition = "failed-precondition"
        case invalidArgument = "invalid-argument"
        /// Bytes that do not match their digest or size.
        case digestMismatch = "digest-mismatch"
        /// Someone else holds the object (an ingest being written by another process).
        case unavailable
        /// The filesystem or the database failed.
        case io
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Any underlying error (Foundation's, GRDB's) as the cause.
    public init(_ code: Code, _ message: String, describing cause: any Error) {
        self.init(code, message, cause: cause)
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

