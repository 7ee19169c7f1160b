import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A directory under /var/tmp/decant-tests that belongs to this test process (`LABEL-PID`), for
/// fixtures generated once per process. A process cannot remove it as it exits, so each new one
/// removes those of ended processes first: they would otherwise pile up, tens of MB per run.
public enum ProcessDirectory {
    /// Creates this process's directory for `label`, empty.
    public static func make(_ label: String) throws -> URL {
        let base = URL(fileURLWithPath: "/var/tmp/decant-tests", isDirectory: true)
        removeEnded(label, in: base)
        let directory = base.appendingPathComponent("\(label)-\(getpid())", isDirectory: true)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    private static func removeEnded(_ label: String, in base: URL) {
        let prefix = label + "-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = pid_t(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(at: base.appendingPathComponent(name))
            }
        }
    }
}
