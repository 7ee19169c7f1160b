import DecantIO
import DecantTestSupport
import Foundation
import Testing

/// Work run in another working directory (an overlay mount too long for absolute paths) moves
/// the working directory of its own thread only.
struct PrivateWorkingDirectoryTests {
    private static func link(_ path: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "unreadable"
    }

    @Test func theProcessKeepsItsWorkingDirectoryWhileTheWorkRunsInAnother() throws {
        let scratch = try Scratch("private-cwd")
        let directory = try scratch.directory("elsewhere").resolvingSymlinksInPath().path
        let before = Self.link("/proc/self/cwd")
        #expect(before != directory)
        // /proc/self is the process (its main thread), /proc/thread-self the thread asking.
        // Filled on the work's thread, which has ended when run returns.
        final class Seen: @unchecked Sendable { var thread = "", process = "" }
        let seen = Seen()
        try PrivateWorkingDirectory.run(in: directory) {
            (seen.thread, seen.process) = (Self.link("/proc/thread-self/cwd"), Self.link("/proc/self/cwd"))
        }
        #expect(seen.thread == directory)
        #expect(seen.process == before, "the process's working directory moved")
        #expect(Self.link("/proc/self/cwd") == before)
    }

    @Test func failuresNameTheirCallAndPath() throws {
        let error = #expect(throws: SystemCallError.self) {
            try PrivateWorkingDirectory.run(in: "/nonexistent/decant") {}
        }
        #expect(error == SystemCallError("chdir", path: "/nonexistent/decant", errno: .noSuchFileOrDirectory))
        let failure = SystemCallError("mount", path: "/mnt", errno: .notPermitted)
        #expect(throws: failure) { try PrivateWorkingDirectory.run(in: "/") { () throws(SystemCallError) in throw failure } }
    }
}
