@_spi(Benchmarks) @testable import DecantArchive
import Foundation
import Testing

/// The decoded-buffer ring with a tap: the applying and hashing threads read every buffer, in
/// order, and a buffer is filled again only once both are done with it.
struct ChunkQueueTests {
    /// What one reader saw: the chunks' sequence numbers, in the order received.
    private final class Seen: @unchecked Sendable {
        var numbers: [Int] = []
        var damaged = 0
    }

    private func read(_ next: () -> Result<ChunkBuffer, ChunkQueue.Outcome>, recycle: (ChunkBuffer) -> Void,
                      into seen: Seen, slow: Bool) {
        while case .success(let buffer) = next() {
            let number = Int(buffer.bytes[0])
            if slow { usleep(200) }
            // The producer fills a buffer with one value: a buffer refilled under a reader shows
            // two.
            if buffer.bytes.contains(where: { Int($0) != number }) { seen.damaged += 1 }
            seen.numbers.append(number)
            recycle(buffer)
        }
    }

    @Test(arguments: [false, true])
    func bothReadersGetEveryBufferInOrderBeforeItIsReused(tapIsSlow: Bool) {
        let queue = ChunkQueue(buffers: 2, capacity: 4096, tap: true)
        let consumer = Seen(), tap = Seen()
        let done = DispatchGroup()
        for (seen, isTap) in [(consumer, false), (tap, true)] {
            done.enter()
            Thread {
                read(isTap ? queue.tapReceive : queue.receive, recycle: queue.recycle, into: seen,
                     slow: isTap == tapIsSlow)
                done.leave()
            }.start()
        }
        for number in 0..<200 {
            guard let buffer = queue.takeEmpty() else { Issue.record("the consumer went away"); return }
            buffer.free.initializeMemory(as: UInt8.self, repeating: UInt8(number % 256))
            buffer.count = 4096
            queue.send(buffer)
        }
        queue.close(.finished)
        guard done.wait(timeout: .now() + 60) == .success else {
            Issue.record("a reader never saw the end of the stream")
            return
        }
        #expect(consumer.numbers == Array(0..<200))
        #expect(tap.numbers == Array(0..<200))
        #expect(consumer.damaged == 0 && tap.damaged == 0)
    }

    @Test func aConsumerThatGivesUpEndsTheTapAndTheProducer() {
        let queue = ChunkQueue(buffers: 1, capacity: 16, tap: true)
        let buffer = queue.takeEmpty()!
        buffer.count = 16
        queue.send(buffer)
        queue.abandon()
        guard case .failure(.failed) = queue.tapReceive() else {
            Issue.record("the tap went on after the consumer gave up")
            return
        }
        #expect(queue.takeEmpty() == nil)
    }
}
