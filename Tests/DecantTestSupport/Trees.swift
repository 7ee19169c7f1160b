import DecantTestSupport
import Foundation

/// Entry-by-entry tree comparison through the fixture scripts `treedump.py` and `treecompare.py`,
/// so that Decant's trees and containerd's are described by the same code.
public enum Trees {
    static let scripts = Repository.root.appendingPathComponent("Tests/Fixtures")

    /// Dumps `directory` (type, mode, owner, size, content hash, link target, device numbers,
    /// xattrs, mtime of every entry) as JSON into `file`.
    public static func dump(_ directory: URL, to file: URL) throws {
        try Shell.check(["python3", scripts.appendingPathComponent("treedump.py").path,
                         directory.path, "--out", file.path])
    }

    /// `nil` when the two dumps are equal, else the differences in words. Directories Decant
    /// created implicitly have no mtime of their own to compare.
    public static func differences(_ ours: URL, _ reference: URL, ignoringMTimeOf paths: [String] = []) throws -> String? {
        var arguments = ["python3", scripts.appendingPathComponent("treecompare.py").path,
                         ours.path, reference.path]
        if !paths.isEmpty { arguments += ["--ignore-mtime"] + paths }
        let output = try Shell.run(arguments)
        return output.status == 0 ? nil : output.stdout + output.stderr
    }
}
