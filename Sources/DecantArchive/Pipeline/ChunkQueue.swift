import Foundation

/// The bounded hand-off between a layer's decoding thread and its applying thread.
///
/// A fixed set of buffers circulates: the producer takes an empty one, fills it and sends it; the
/// consumer receives it, uses it and recycles it. Memory is therefore bounded by
/// `buffers × capacity` whatever the layer's size, and a fast producer waits for a slow consumer.
/// Either side can close the queue (the producer with the stream's outcome, the consumer when it
/// gives up), which wakes the other.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class ChunkQueue: @unchecked Sendable {
    /// How the producer's stream ended.
    @_spi(Benchmarks) public enum Outcome {
        case finished
        case failed(any Error)
    }

    private let condition = NSCondition()
    // All state below is guarded by `condition`.
    private var empty: [ChunkBuffer]
    private var filled: [ChunkBuffer] = []
    private var filledHead = 0
    private var outcome: Outcome?
    private var consumerGone = false
    /// Seconds each side spent blocked on the other; read once the stream is over.
    private(set) var producerWaiting: Double = 0
    private(set) var consumerWaiting: Double = 0

    @_spi(Benchmarks) public init(buffers: Int, capacity: Int) {
        empty = (0..<buffers).map { _ in ChunkBuffer(capacity: capacity) }
    }

    // MARK: Producer side

    /// An empty buffer to fill, waiting for the consumer to recycle one; `nil` once the consumer
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

    /// Hands a filled buffer to the consumer.
    @_spi(Benchmarks) public func send(_ buffer: ChunkBuffer) {
        condition.lock()
        filled.append(buffer)
        condition.signal()
        condition.unlock()
    }

    /// Ends the stream; the consumer sees `outcome` after the buffers already sent.
    @_spi(Benchmarks) public func close(_ outcome: Outcome) {
        condition.lock()
        self.outcome = outcome
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Consumer side

    /// The next filled buffer, or the stream's outcome once every buffer was received.
    func receive() -> Result<ChunkBuffer, Outcome> {
        condition.lock()
        defer { condition.unlock() }
        if filledHead == filled.count && outcome == nil {
            let start = monotonicSeconds()
            while filledHead == filled.count && outcome == nil { condition.wait() }
            consumerWaiting += monotonicSeconds() - start
        }
        if filledHead < filled.count {
            let buffer = filled[filledHead]
            filledHead += 1
            if filledHead == filled.count {
                filled.removeAll(keepingCapacity: true)
                filledHead = 0
            }
            return .success(buffer)
        }
        return .failure(outcome!)
    }

    /// Returns a buffer for the producer to fill again.
    func recycle(_ buffer: ChunkBuffer) {
        condition.lock()
        empty.append(buffer)
        condition.signal()
        condition.unlock()
    }

    /// The consumer stops early: the producer's next `takeEmpty` returns `nil`.
    func abandon() {
        condition.lock()
        consumerGone = true
        condition.broadcast()
        condition.unlock()
    }
}

extension ChunkQueue.Outcome: Error {}
