import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Testing

/// A `decant` process killed with SIGKILL in the middle of an ingest and of a commit leaves a store
/// that opens, shows nothing partial, and keeps working.
@Suite(.serialized) struct CrashTests {
    private func decant(_ root: String, _ arguments: [String], failpoint: String? = nil, input: String? = nil) async throws -> Shell.Output {
        try await Repository.runDecant(arguments, root: root, environment: failpoint.map { ["DECANT_FAILPOINT": $0] } ?? [:], input: input)
    }

    @Test func killedMidIngestLeavesOnlyAResumableIngest() async throws {
        let scratch = try Scratch("crash")
        let root = scratch.url.appendingPathComponent("root").path
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        let input = scratch.url.appendingPathComponent("blob").path
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let digest = Digest.sha256(of: bytes)

        let killed = try await decant(root, ["content", "ingest", "--expected-digest", digest.description, "r"],
                                      failpoint: "content-mid-ingest", input: input)
        #expect(killed.status != 0)

        let store = try Store(layout: StoreLayout(root: root))
        #expect(try store.content.list().isEmpty, "a partial blob is visible")
        let ingests = try store.content.ingests()
        #expect(ingests.count == 1 && ingests[0].offset >= 1 << 20, "\(ingests)")
        #expect(try await decant(root, ["gc"]).status == 0)
        #expect(try await decant(root, ["snapshots", "ls"]).status == 0)

        let resumed = try await decant(root, ["content", "ingest", "--expected-digest", digest.description, "r"], input: input)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try store.content.info(digest).size == Int64(bytes.count))
        #expect(try store.content.ingests().isEmpty)
    }

    @Test func anIngestACrashLeftIsAbortedOnRequest() async throws {
        let scratch = try Scratch("crash")
        let root = scratch.url.appendingPathComponent("root").path
        let input = scratch.url.appendingPathComponent("blob").path
        try Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }).write(to: URL(fileURLWithPath: input))
        #expect(try await decant(root, ["content", "ingest", "r"], failpoint: "content-mid-ingest", input: input).status != 0)
        let store = try Store(layout: StoreLayout(root: root))
        #expect(try store.content.ingests().map(\.ref) == ["r"])

        let unknown = try await decant(root, ["content", "abort", "nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("ingest nope not found"), "\(unknown.stderr)")
        do {
            let writer = try store.content.writer(ref: "r")
            let held = try await decant(root, ["content", "abort", "r"])
            #expect(held.status != 0 && held.stderr.contains("ingest r is being written"), "\(held.stderr)")
            withExtendedLifetime(writer) {}
        }
        #expect(try store.content.ingests().map(\.ref) == ["r"])

        // An ingest that cannot be locked, or moved away to be removed, is not said to be busy,
        // nor to be gone: the immutable flag refuses even root both.
        let directory = StoreLayout(root: root).ingests + "/" + Digest.sha256(of: Array("r".utf8)).encoded
        for (immutable, failure) in [(directory + "/lock", "cannot lock the ingest in \(directory)"),
                                     (directory, "cannot remove the ingest in \(directory)")] {
            try await Shell.check(["chattr", "+i", immutable])
            let refused = try await decant(root, ["content", "abort", "r"])
            try await Shell.check(["chattr", "-i", immutable])
            #expect(refused.status != 0 && refused.stderr.contains("cannot abort ingest r: \(failure)")
                        && refused.stderr.contains("Operation not permitted"), "\(refused.stderr)")
            #expect(try store.content.ingests().map(\.ref) == ["r"])
        }

        let aborted = try await decant(root, ["content", "abort", "r"])
        #expect(aborted.status == 0 && aborted.stdout == "r\n", "\(aborted.stderr)")
        #expect(try store.content.ingests().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: StoreLayout(root: root).ingests).isEmpty)
    }

    @Test func killedAfterTheRenameLeavesAWholeBlob() async throws {
        let scratch = try Scratch("crash")
        let root = scratch.url.appendingPathComponent("root").path
        let input = scratch.url.appendingPathComponent("blob").path
        try Data("complete".utf8).write(to: URL(fileURLWithPath: input))
        let killed = try await decant(root, ["content", "ingest", "r"], failpoint: "content-after-rename", input: input)
        #expect(killed.status != 0)
        let store = try Store(layout: StoreLayout(root: root))
        let infos = try store.content.list()
        #expect(infos.map(\.digest) == [Digest.sha256(of: Array("complete".utf8))])
    }

    /// The blob's file is in place, but its name is not on the disk until `content/blobs/sha256`
    /// is flushed. When that flush fails, the write fails and records nothing. The disk holding
    /// `content/` dies between the two (the metadata database is on another one).
    @Test func aBlobWhoseNameCannotBeFlushedIsNotRecorded() async throws {
        let scratch = try Scratch("crash")
        let volume = try SmallVolume(in: scratch, megabytes: 32)
        defer { volume.unmount() }
        let root = try scratch.directory("root")
        try FileManager.default.createSymbolicLink(atPath: root.path + "/content", withDestinationPath: volume.mountPoint.path)
        let bytes = Array("a blob whose name never reached the disk".utf8)

        let (status, message) = try await ingestWhileADiskDies(bytes, root: root.path, volume: volume, scratch: scratch)
        #expect(status != 0)
        #expect(message.contains("cannot flush the content store's directory after adding \(Digest.sha256(of: bytes))")
                    && message.contains("Input/output error"), "\(message)")
        let recorded = try await Shell.check(["python3", "-c", """
            import sqlite3, sys
            print(sqlite3.connect(sys.argv[1]).execute("select count(*) from content").fetchone()[0])
            """, root.path + "/metadata.db"])
        #expect(recorded.stdout == "0\n", "the blob was recorded")
    }

    /// The same with the database's disk dying instead: the blob cannot be recorded, so its file
    /// is taken out of the store again, and the ingest is dropped.
    @Test func aBlobTheDatabaseCannotRecordIsTakenBack() async throws {
        let scratch = try Scratch("crash")
        let volume = try SmallVolume(in: scratch, megabytes: 32)
        defer { volume.unmount() }
        let root = volume.mountPoint.appendingPathComponent("root").path
        let content = try scratch.directory("content")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: root + "/content", withDestinationPath: content.path)

        let bytes = Array("a blob nobody can record".utf8)
        let (status, message) = try await ingestWhileADiskDies(bytes, root: root, volume: volume, scratch: scratch)
        #expect(status != 0 && message.contains("cannot record \(Digest.sha256(of: bytes))") && message.contains("disk I/O error"), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: content.path + "/blobs/sha256").isEmpty, "a blob stayed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: content.path + "/ingest").isEmpty, "the ingest stayed")
    }

    /// Runs `decant content ingest` of `bytes` into the store at `root`, stopped right after the
    /// blob's rename while the test shuts `volume` down (`EXT4_IOC_SHUTDOWN`: every operation on
    /// it fails with EIO from then on), then lets it go on. Its exit status and standard error.
    private func ingestWhileADiskDies(_ bytes: [UInt8], root: String, volume: SmallVolume, scratch: Scratch) async throws -> (Int32, String) {
        let input = scratch.url.appendingPathComponent("blob")
        try Data(bytes).write(to: input)
        let ingest = Process()
        ingest.executableURL = URL(fileURLWithPath: Repository.decant)
        ingest.arguments = ["content", "ingest", "r"]
        ingest.environment = ProcessInfo.processInfo.environment.merging([
            "DECANT_ROOT": root, "DECANT_FAILPOINT": "content-after-rename", "DECANT_FAILPOINT_ACTION": "stop",
        ]) { $1 }
        ingest.standardInput = try FileHandle(forReadingFrom: input)
        let errors = Pipe()
        ingest.standardError = errors
        ingest.standardOutput = FileHandle.nullDevice
        try ingest.run()
        let pid = ingest.processIdentifier
        // A test that fails before the SIGCONT below leaves no stopped process behind.
        defer { if ingest.isRunning { kill(pid, SIGKILL) } }
        // Every thread: the one at the failpoint stops first, the others as they notice.
        let stopped = try await eventually(within: .seconds(60)) {
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return !threads.isEmpty && threads.allSatisfy { thread in
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/stat", encoding: .utf8)) ?? ""
                return stat.split(separator: ")").last?.split(separator: " ").first == "T"
            }
        }
        try #require(stopped, "the ingest never reached the point after the rename")
        try volume.shutDown()
        kill(pid, SIGCONT)
        try await offPool { ingest.waitUntilExit() }
        return (ingest.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test func killedMidCommitLeavesTheSnapshotActive() async throws {
        let scratch = try Scratch("crash")
        let root = scratch.url.appendingPathComponent("root").path
        #expect(try await decant(root, ["snapshots", "prepare", "work"]).status == 0)
        let killed = try await decant(root, ["snapshots", "commit", "done", "work"], failpoint: "snapshot-commit-in-transaction")
        #expect(killed.status != 0)

        let store = try Store(layout: StoreLayout(root: root))
        #expect(try store.overlay.walk(filters: []).map { "\($0.name) \($0.kind)" } == ["work active"])
        #expect(try await decant(root, ["gc"]).status == 0)
        let listed = try await decant(root, ["snapshots", "ls"])
        #expect(listed.status == 0 && listed.stdout.contains("work"))
        #expect(try await decant(root, ["snapshots", "commit", "done", "work"]).status == 0)
        #expect(try store.overlay.stat("done").kind == .committed)
    }
}
