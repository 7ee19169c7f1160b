import Synchronization

/// How far a layer's application has come, updated by its applying thread after every entry and
/// read by whoever reports progress.
public final class ApplyProgress: Sendable {
    private let entryCount = Atomic<Int>(0)
    private let bytes = Atomic<Int64>(0)

    public init() {}

    /// Entries applied so far.
    public var entries: Int { entryCount.load(ordering: .relaxed) }
    /// Regular-file bytes written so far.
    public var fileBytes: Int64 { bytes.load(ordering: .relaxed) }

    func record(entries: Int, fileBytes: Int64) {
        entryCount.store(entries, ordering: .relaxed)
        bytes.store(fileBytes, ordering: .relaxed)
    }
}
