import Foundation

/// Paths in this checkout, for tests that run the scripts and the built `decant`.
public enum Repository {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The debug `decant` that `swift build --build-tests` (or `swift test`) built next to the tests.
    public static var decant: String {
        root.appendingPathComponent(".build/debug/decant").path
    }
}
