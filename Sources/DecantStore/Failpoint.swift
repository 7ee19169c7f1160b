import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Crash points for the crash tests: when `DECANT_FAILPOINT` names a point, the process kills
/// itself there with SIGKILL — no cleanup, no flush — as a power cut or OOM kill would.
enum Failpoint {
    private static let armed = ProcessInfo.processInfo.environment["DECANT_FAILPOINT"]

    static func hit(_ name: String) {
        if armed == name { kill(getpid(), SIGKILL) }
    }
}
