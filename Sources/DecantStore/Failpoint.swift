import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Crash points for the crash tests: when `DECANT_FAILPOINT` names a point, the process kills
/// itself there with SIGKILL — no cleanup, no flush — as a power cut or OOM kill would. With
/// `DECANT_FAILPOINT_ACTION=stop` it stops itself (SIGSTOP) there instead, so that a test can
/// break what lies under it (shut its file system down) before it goes on (SIGCONT).
enum Failpoint {
    private static let armed = ProcessInfo.processInfo.environment["DECANT_FAILPOINT"]
    private static let stops = ProcessInfo.processInfo.environment["DECANT_FAILPOINT_ACTION"] == "stop"

    static func hit(_ name: String) {
        // To this thread: a signal sent to the process could be taken by another thread while
        // this one ran on past the point.
        if armed == name { raise(stops ? SIGSTOP : SIGKILL) }
    }
}
