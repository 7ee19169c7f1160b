import CDecantShim
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Work that has to run in another working directory, done without moving the process's: on a
/// thread of its own that first stops sharing its working directory with the other threads
/// (`unshare(CLONE_FS)`), so that its `chdir` is seen by no one else. For calls that take only
/// paths relative to a directory, such as `mount(2)` of an overlay whose layers' full paths do
/// not fit its one page of options.
public enum PrivateWorkingDirectory {
    /// Runs `body` in `directory` and waits for it.
    public static func run(in directory: String, _ body: @escaping @Sendable () throws(SystemCallError) -> Void) throws(SystemCallError) {
        // Written by the thread before it signals, read here after the wait.
        final class Outcome: @unchecked Sendable { var result: Result<Void, SystemCallError> = .success(()) }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            outcome.result = Result { () throws(SystemCallError) in
                _ = try check("unshare") { decant_unshare_file_system_attributes() }
                _ = try check("chdir", path: directory) { chdir(directory) }
                try body()
            }
            done.signal()
        }
        thread.name = "decant-chdir"
        thread.start()
        done.wait()
        try outcome.result.get()
    }
}
