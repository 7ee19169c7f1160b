import Foundation

/// Paths in this checkout, for tests that run the scripts and the built `decant`.
public enum Repository {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The debug `decant` that `swift build --build-tests` (or `swift test`) built next to the tests.
    public static var decant: String {
        root.appendingPathComponent(".build/debug/decant").path
    }

    /// Runs the built `decant` with `arguments` on the store at `root` (`DECANT_ROOT`), with
    /// `environment` added (`DECANT_FAILPOINT`, say) and standard input read from the file
    /// `input` when given.
    public static func runDecant(_ arguments: [String], root: String, environment: [String: String] = [:],
                                 input: String? = nil) async throws -> Shell.Output {
        let variables = environment.merging(["DECANT_ROOT": root]) { $1 }.sorted { $0.key < $1.key }
        var command = variables.map { "\($0.key)='\($0.value)' " }.joined()
        command += "'\(decant)' " + arguments.map { "'\($0)'" }.joined(separator: " ")
        if let input { command += " < '\(input)'" }
        return try await Shell.run(["bash", "-c", command])
    }
}
