import Foundation

/// The bounded hand-off between a layer's decoding thread and the threads that read its output.
///
/// A fixed set of buffers circulates: the producer takes an empty one, fills it and sends it; the
/// consumer receives it, uses it and recycles it. Memory is therefore bounded by
/// `buffers × capacity` whatever the layer's size, and a fast producer waits for a slow consumer.
/// With a tap, every buffer sent also goes to a second reader (the thread hashing the stream),
/// which reads it at the same time as the consumer; a buffer is empty again once both recycled
/// it. Either side can close the queue (the producer with the stream's outcome, the consumer when
/// it gives up), which wakes the others.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class ChunkQueue: @unchecked Sendable {
    /// How the producer's stream ended.
    @_spi(Benchmarks) public enum Outcome {
        case finished
        case failed(any Error)
    }

    private let condition = NSCondition()
    private let readers: Int
    // All state below is guarded by `condition`.
    private var empty: [ChunkBuffer]
    private var filled = Ring()
    private var tapped = Ring()
    /// For each buffer out of the empty pool, how many readers still hold it.
    private var holds: [ObjectIdentifier: Int] = [:]
    private var outcome: Outcome?
    private var consumerGone = false
    /// Seconds each side spent blocked on the others; read once the stream is over.
    private(set) var producerWaiting: Double = 0
    private(set) var consumerWaiting: Double = 0

    /// `tap`: whether a second reader receives every buffer too (see ``tapReceive()``).
    @_spi(Benchmarks) public init(buffers: Int, capacity: Int, tap: Bool = false) {
        empty = (0..<buffers).map { _ in ChunkBuffer(capacity: capacity) }
        readers = tap ? 2 : 1
    }

    // MARK: Producer side

    /// An empty buffer to fill, waiting for the readers to recycle one; `nil` once the consumer
    /// has gone away, when the producer should stop.
    func takeEmpty() -> ChunkBuffer? {
        condition.lock()
        defer { condition.unlock() }
        if empty.isEmpty && !consumerGone {
            let start = monotonicSeconds()
            while empty.isEmpty && !consumerGone { condition.wait() }
            producerWaiting += monotonicSeconds() - start
        }
        if consumerGone { return nil }
        let buffer = empty.removeLast()
        buffer.count = 0
        return buffer
    }

    /// Hands a filled buffer to the consumer (and the tap).
    @_spi(Benchmarks) public func send(_ buffer: ChunkBuffer) {
        condition.lock()
        holds[ObjectIdentifier(buffer)] = readers
        filled.append(buffer)
        if readers > 1 { tapped.append(buffer) }
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the stream; the readers see `outcome` after the buffers already sent.
    @_spi(Benchmarks) public func close(_ outcome: Outcome) {
        condition.lock()
        self.outcome = outcome
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Reader side

    /// The consumer's next filled buffer, or the stream's outcome once every buffer was received.
    func receive() -> Result<ChunkBuffer, Outcome> {
        condition.lock()
        defer { condition.unlock() }
        if filled.isEmpty && outcome == nil {
            let start = monotonicSeconds()
            while filled.isEmpty && outcome == nil { condition.wait() }
            consumerWaiting += monotonicSeconds() - start
        }
        if let buffer = filled.removeFirst() { return .success(buffer) }
        return .failure(outcome!)
    }

    /// The tap's next buffer, in the same order; the stream's outcome once every buffer was
    /// received, and a failure as soon as the consumer has gone away (nothing it read matters
    /// then).
    func tapReceive() -> Result<ChunkBuffer, Outcome> {
        condition.lock()
        defer { condition.unlock() }
        while tapped.isEmpty && outcome == nil && !consumerGone { condition.wait() }
        if consumerGone { return .failure(.failed(Abandoned())) }
        if let buffer = tapped.removeFirst() { return .success(buffer) }
        return .failure(outcome!)
    }

    /// A reader is done with a buffer; once every reader is, the producer may fill it again.
    func recycle(_ buffer: ChunkBuffer) {
        condition.lock()
        let key = ObjectIdentifier(buffer)
        let left = (holds[key] ?? 1) - 1
        if left > 0 {
            holds[key] = left
        } else {
            holds[key] = nil
            empty.append(buffer)
            condition.broadcast()
        }
        condition.unlock()
    }

    /// The consumer stops early: the producer's next `takeEmpty` returns `nil`, and the tap's
    /// next `tapReceive` ends its stream.
    func abandon() {
        condition.lock()
        consumerGone = true
        condition.broadcast()
        condition.unlock()
    }

    /// Why the tap's stream ended early.
    private struct Abandoned: Error {}

    /// Buffers in the order they were sent, taken from the front.
    private struct Ring {
        private var buffers: [ChunkBuffer] = []
        private var head = 0

        var isEmpty: Bool { head == buffers.count }

        mutating func append(_ buffer: ChunkBuffer) { buffers.append(buffer) }

        mutating func removeFirst() -> ChunkBuffer? {
            guard head < buffers.count else { return nil }
            let buffer = buffers[head]
            head += 1
            if head == buffers.count {
                buffers.removeAll(keepingCapacity: true)
                head = 0
            }
            return buffer
        }
    }
}

extension ChunkQueue.Outcome: Error {}
