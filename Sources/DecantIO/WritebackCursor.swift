import SystemPackage

/// How much of a file written front to back was handed to the kernel's writeback
/// (``FileDescriptor/startWriteback(offset:length:)``), so that each call covers only new data.
///
/// Whole pages only until the file's end: a page sent half written would be dirtied again while
/// under writeback and skipped by the next call, staying behind for the final flush.
public struct WritebackCursor: Sendable {
    /// Bytes before this offset were handed over already.
    public private(set) var handedOver: Int64 = 0

    public init() {}

    /// Hands over the data of `file` from ``handedOver`` to `written` (down to a page boundary
    /// unless `final`), when that is at least `minimum` bytes.
    public mutating func advance(_ file: FileDescriptor, written: Int64, minimum: Int64, final: Bool = false) {
        let end = final ? written : written & ~4095
        let pending = end - handedOver
        guard pending > 0, pending >= minimum else { return }
        file.startWriteback(offset: handedOver, length: pending)
        handedOver = end
    }
}
