import DecantOCI
import Foundation

/// What the store knows of a blob (containerd's `content.Info`).
public struct ContentInfo: Sendable, Codable, Equatable {
    public var digest: Digest
    public var size: Int64
    public var labels: [String: String]
    public var createdAt: Date
    public var updatedAt: Date
}

/// A write in progress (containerd's `content.Status`).
public struct IngestStatus: Sendable, Codable, Equatable {
    public var ref: String
    /// Bytes already written: where a resumed write continues (an HTTP `Range` start).
    public var offset: Int64
    public var total: Int64?
    public var expected: Digest?
    public var startedAt: Date
    public var updatedAt: Date
}
