import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

@Suite struct ContentStoreTests {
    private let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    private var digest: Digest { Digest.sha256(of: payload) }

    @Test func aCommittedBlobIsVisibleWithItsLabels() throws {
        let fixture = try StoreFixture("content")
        let writer = try fixture.store.content.writer(ref: "r", expected: digest, total: Int64(payload.count))
        try writer.write(payload)
        #expect(!fixture.store.content.contains(digest), "visible before commit")
        let info = try writer.commit(labels: ["a": "1"])
        #expect(info.size == Int64(payload.count))
        #expect(try fixture.store.content.info(digest).labels == ["a": "1"])
        let blob = try fixture.store.content.path(of: digest)
        #expect(FileManager.default.contents(atPath: blob) == Data(payload))
        #expect(try fixture.store.content.ingests().isEmpty)

        try fixture.store.content.update(digest, labels: ["b": "2", "a": ""], fieldPaths: ["labels.b", "labels.a"])
        #expect(try fixture.store.content.info(digest).labels == ["b": "2"])
        #expect(try fixture.store.content.list(filters: [try Filter("labels.b==2")]).map(\.digest) == [digest])
        #expect(try fixture.store.content.list(filters: [try Filter("labels.b==3")]).isEmpty)

        try fixture.store.content.delete(digest)
        #expect(!fixture.store.content.contains(digest))
        #expect(throws: StoreError.self) { try fixture.store.content.info(digest) }
    }

    @Test func bytesThatDoNotMatchTheirDigestAreRefused() throws {
        let fixture = try StoreFixture("content")
        let wrong = Digest.sha256(of: [1, 2, 3])
        let writer = try fixture.store.content.writer(ref: "bad", expected: wrong)
        try writer.write(payload)
        #expect {
            try writer.commit()
        } throws: { error in
            (error as? StoreError)?.code == .digestMismatch
        }
        #expect(try fixture.store.content.list().isEmpty)
        #expect(try fixture.store.content.ingests().isEmpty)

        let sized = try fixture.store.content.writer(ref: "short", expected: digest, total: Int64(payload.count) + 1)
        try sized.write(payload)
        #expect(throws: StoreError.self) { try sized.commit() }
        #expect(try fixture.store.content.list().isEmpty)
    }

    @Test func anInterruptedIngestResumesAtItsOffset() throws {
        let fixture = try StoreFixture("content")
        do {
            let first = try fixture.store.content.writer(ref: "resume", expected: digest)
            try first.write(Array(payload[..<100_000]))
        }
        #expect(try fixture.store.content.ingests().map(\.offset) == [100_000])
        // A crash can leave `startedat` empty (it is not fsynced): the next writer writes it again.
        let startedAt = fixture.store.layout.ingests + "/" + Digest.sha256(of: Array("resume".utf8)).encoded + "/startedat"
        try Data().write(to: URL(fileURLWithPath: startedAt))
        let second = try fixture.store.content.writer(ref: "resume", expected: digest)
        #expect(second.offset == 100_000)
        #expect((try? String(contentsOfFile: startedAt, encoding: .utf8)).flatMap(Double.init) != nil)
        try second.write(Array(payload[100_000...]))
        try second.commit()
        #expect(try fixture.store.content.info(digest).size == Int64(payload.count))
    }

    /// A big blob is written past the page cache, a chunk at a time: what an interrupted writer
    /// leaves is a prefix a second one can resume from.
    @Test func anInterruptedBigIngestResumesFromWhatReachedTheFile() throws {
        let fixture = try StoreFixture("content")
        let big = (0..<(5 << 20 + 4321)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        let bigDigest = Digest.sha256(of: big)
        do {
            let first = try fixture.store.content.writer(ref: "big", expected: bigDigest, total: Int64(big.count))
            try first.write(Array(big[..<(3 << 20 + 17)]))
        }
        let left = try #require(try fixture.store.content.ingests().first).offset
        #expect(left > 0 && left <= 3 << 20 + 17, "\(left)")
        let second = try fixture.store.content.writer(ref: "big", expected: bigDigest, total: Int64(big.count))
        #expect(second.offset == left)
        try second.write(Array(big[Int(left)...]))
        try second.commit()
        let blob = try fixture.store.content.path(of: bigDigest)
        #expect(FileManager.default.contents(atPath: blob) == Data(big))
    }

    /// The disk fails to store a blob's bytes after `write` returned (writeback): the commit
    /// fails, and the ingest is gone. The kernel reports such an error to one `fsync` only, and
    /// its cache may still hold the lost bytes: a writer resuming the ingest would read them
    /// back from there, verify them, and commit a blob whose file lacks them.
    @Test func anIngestWhoseBytesFailedToReachTheDiskIsNotResumed() throws {
        let scratch = try Scratch("content-eio")
        let volume = try WritebackFailingVolume(in: scratch)
        defer { volume.unmount() }
        let store = try Store(layout: StoreLayout(root: volume.mountPoint.appendingPathComponent("root").path))
        let blob = (0..<900_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let digest = Digest.sha256(of: blob)
        try volume.failWriteback()
        let writer = try store.content.writer(ref: "r", expected: digest, total: Int64(blob.count))
        try writer.write(blob)
        #expect {
            try writer.commit()
        } throws: { error in
            (error as? StoreError).map { $0.code == .io && "\($0)".contains("fsync of ingest r failed") } ?? false
        }
        #expect(try store.content.ingests().isEmpty, "the ingest whose writeback failed is left to resume")
        #expect(!store.content.contains(digest))

        try volume.restoreWriteback()
        let again = try store.content.writer(ref: "r", expected: digest, total: Int64(blob.count))
        #expect(again.offset == 0)
        try again.write(blob)
        try again.commit()
        #expect(FileManager.default.contents(atPath: try store.content.path(of: digest)) == Data(blob))
    }

    /// An ingest is judged stale with its lock held, on the directory that is there then: one a
    /// writer has made again, or resumed, since the collector listed it stays.
    @Test func anIngestMadeAgainOrResumedSinceItWasListedStays() throws {
        let fixture = try StoreFixture("content-relisted")
        let store = fixture.store
        let directory = store.layout.ingests + "/" + Digest.sha256(of: Array("r".utf8)).encoded
        let expiry: TimeInterval = 3600
        func age() throws {
            let old = Date().addingTimeInterval(-2 * expiry)
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: directory + "/data")
        }
        let first = try store.content.writer(ref: "r")
        try first.write([1, 2, 3])
        try age()
        #expect(try store.content.ingests().map(\.ref) == ["r"])
        // The writer gives it up and starts again: the new directory is made, not yet locked.
        first.discard()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        #expect(!store.content.abortIfIdle(ref: "r", olderThan: expiry))
        #expect(FileManager.default.fileExists(atPath: directory))
        // A writer resumes it and lets go, leaving it to be resumed again.
        do {
            let second = try store.content.writer(ref: "r")
            try second.write([4])
        }
        #expect(!store.content.abortIfIdle(ref: "r", olderThan: expiry))
        try age()
        #expect(store.content.abortIfIdle(ref: "r", olderThan: expiry))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    /// `abort` refuses an ingest a writer holds, as `abortIfIdle` does: removing it under the
    /// writer would let its commit rename another writer's data into place.
    @Test func anIngestBeingWrittenIsNotAborted() throws {
        let fixture = try StoreFixture("content-abort")
        let writer = try fixture.store.content.writer(ref: "held")
        try writer.write([1])
        #expect {
            try fixture.store.content.abort(ref: "held")
        } throws: { error in
            (error as? StoreError)?.code == .unavailable
        }
        #expect(try fixture.store.content.ingests().map(\.ref) == ["held"])
        withExtendedLifetime(writer) {}
    }

    @Test func aSecondWriterOfTheSameRefIsRefusedWhileTheFirstHoldsIt() throws {
        let fixture = try StoreFixture("content")
        let first = try fixture.store.content.writer(ref: "busy")
        #expect {
            _ = try fixture.store.content.writer(ref: "busy")
        } throws: { error in
            (error as? StoreError)?.code == .unavailable
        }
        _ = first
    }

    @Test func concurrentIngestsOfOneDigestWriteItOnce() async throws {
        let fixture = try StoreFixture("content")
        let store = fixture.store
        let payload = payload
        let digest = digest
        let writes = Counter()
        try await withThrowingTaskGroup(of: ContentInfo.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await store.content.ingest(digest, size: Int64(payload.count)) { writer in
                        writes.increment()
                        Thread.sleep(forTimeInterval: 0.2)
                        try writer.write(payload)
                    }
                }
            }
            for try await info in group { #expect(info.digest == digest) }
        }
        #expect(writes.value == 1)
    }

    /// Writers of one ref in four stores on one root, as in four processes, each taking the ingest
    /// and giving it up again over and over: a writer that comes while the other removes the
    /// ingest directory finds it busy or gets it, never an error (the lock it took must be on
    /// the file that is there, not on the one just removed).
    @Test func aWriterArrivingWhileTheIngestIsRemovedGetsItOrWaits() async throws {
        let fixture = try StoreFixture("content-churn")
        let stores = [fixture.store] + (try (1..<4).map { _ in try Store(layout: StoreLayout(root: fixture.root)) })
        let errors = Mutex<[String]>([])
        let taken = Counter()
        // Until the ingest has changed hands often enough, however slowly the machine lets
        // the threads run; the deadline only ends a run in which it never does.
        let (turns, deadline) = (400, ContinuousClock.now + .seconds(60))
        let threads = stores.map { store in
            Thread {
                while taken.value < turns && ContinuousClock.now < deadline {
                    do throws(StoreError) {
                        try store.content.writer(ref: "churn", total: 1).discard()
                        taken.increment()
                    } catch {
                        if error.code != .unavailable { errors.withLock { $0.append("\(error)") } }
                    }
                }
            }
        }
        for thread in threads { thread.start() }
        while threads.contains(where: { !$0.isFinished }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { Array($0.prefix(3)) })")
        #expect(taken.value >= turns)
    }

    /// Writers committing one blob over and over in three stores on one root, as in three
    /// processes, while a fourth removes the ingest whenever no writer holds it (as `gc` does
    /// with an old one): a writer that gets the ingest commits it. Neither a writer's removal of
    /// its directory at commit nor the collector's may leave a writer with files that are no
    /// longer there.
    @Test func aWriterNeverLosesItsIngestToARemovalOfAnother() async throws {
        let fixture = try StoreFixture("content-churn")
        let stores = [fixture.store] + (try (1..<4).map { _ in try Store(layout: StoreLayout(root: fixture.root)) })
        let blob: [UInt8] = [1, 2, 3]
        let digest = Digest.sha256(of: blob)
        let errors = Mutex<[String]>([])
        let (committed, aborted) = (Counter(), Counter())
        let (turns, deadline) = (1000, ContinuousClock.now + .seconds(60))
        var threads = stores.dropLast().map { store in
            Thread {
                while committed.value < turns && ContinuousClock.now < deadline {
                    do throws(StoreError) {
                        let writer = try store.content.writer(ref: "churn", expected: digest, total: 3)
                        if writer.offset == 0 { try writer.write(blob) }
                        try writer.commit()
                        committed.increment()
                    } catch {
                        if error.code != .unavailable { errors.withLock { $0.append("\(error)") } }
                    }
                }
            }
        }
        let collector = stores.last!
        threads.append(Thread {
            while committed.value < turns && ContinuousClock.now < deadline {
                if collector.content.abortIfIdle(ref: "churn") { aborted.increment() }
            }
        })
        for thread in threads { thread.start() }
        while threads.contains(where: { !$0.isFinished }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(errors.withLock { $0.count } == 0, "\(errors.withLock { Array($0.prefix(3)) })")
        #expect(committed.value >= turns)
        #expect(aborted.value > 0, "the collector never found the ingest idle")
        #expect(try fixture.store.content.ingests().isEmpty)
    }

    /// Writers of one blob in three stores on one root, as in three processes: the first gives
    /// up; the one that waited for it writes the blob; one that arrives only after the first let
    /// go waits for that writer and finds the blob, instead of finding the ingest busy.
    @Test func writersInOtherProcessesTakeTurnsAfterOneGivesUp() async throws {
        let fixture = try StoreFixture("content-turns")
        let (payload, digest) = (payload, digest)
        let first = fixture.store
        let second = try Store(layout: StoreLayout(root: fixture.root))
        let third = try Store(layout: StoreLayout(root: fixture.root))
        struct GaveUp: Error {}
        let release = DispatchSemaphore(value: 0)
        let (entered, writes) = (Counter(), Counter())
        // Each step waits for the one before to be under way, not for a time: on a busy machine
        // a task can start seconds after it was made.
        async let failed = first.content.ingest(digest, size: Int64(payload.count)) { _ in
            entered.increment()
            release.wait()
            throw GaveUp()
        }
        try #require(try await eventually(within: .seconds(60)) { entered.value == 1 }, "the first writer never started")
        async let waited = second.content.ingest(digest, size: Int64(payload.count)) { writer in
            writes.increment()
            Thread.sleep(forTimeInterval: 0.4)
            try writer.write(payload)
        }
        // Time for the second to be waiting for the first; should it start only after the
        // release, it writes the blob all the same.
        try await Task.sleep(for: .milliseconds(200))
        release.signal()
        try #require(try await eventually(within: .seconds(60)) { writes.value == 1 }, "the second writer never started")
        let late = try await third.content.ingest(digest, size: Int64(payload.count)) { writer in
            writes.increment()
            try writer.write(payload)
        }
        do {
            _ = try await failed
            Issue.record("the first writer was to give up")
        } catch is GaveUp {}
        #expect(try await waited.digest == digest)
        #expect(late.digest == digest)
        #expect(writes.value == 1, "the late writer found the blob written")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
