import ArgumentParser
import Decant
import DecantArchive
import DecantIO
import Foundation
import SystemPackage

/// How the command line prints: human lines on stdout, errors on stderr, JSON when asked.
enum Output {
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        do {
            try write(data + Data("\n".utf8), to: .standardOutput, name: "standard output")
        } catch {
            // A script reading this got nothing or half of it: not a success.
            printError("cannot print the result: \(error)")
            throw ExitCode(1)
        }
    }

    /// Writes `message` to standard error as one line, its control characters escaped (`\n`,
    /// `\u{1B}`): an error can quote names from a layer, which must neither fake lines of
    /// output nor steer a terminal.
    static func printError(_ message: String) {
        try? write(Data("decant: \(escapingControlCharacters(message))\n".utf8), to: .standardError, name: "standard error")
    }

    static func escapingControlCharacters(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                escaped.append(contentsOf: scalar.escaped(asASCII: false).unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// Writes with `write(2)`: FileHandle's `write(_:)` ends the process when a write fails (a
    /// full disk, a closed pipe).
    static func write(_ data: Data, to file: FileDescriptor, name: String) throws {
        try data.withUnsafeBytes { bytes in try file.writeAll(bytes, path: name) }
    }

    static func printHuman(_ result: LayerApplyResult, directory: String, seconds: Double) {
        let digests = result.digests
        let entries = result.entries
        let megabytes = Double(digests.uncompressedSize) / 1_000_000
        print("""
            layer        \(result.layer)
            directory    \(directory) (\(result.whiteoutMode) whiteouts, \(result.io) I/O)
            digest       \(digests.compressedDigest)  (\(digests.compression), \(digests.compressedSize) bytes)
            diff_id      \(digests.diffID)  (\(digests.uncompressedSize) bytes)
            entries      \(entries.total): \(entries.regularFiles) files, \(entries.directories) dirs, \
            \(entries.symlinks) symlinks, \(entries.hardlinks) hardlinks, \(entries.devices) devices, \
            \(entries.fifos) fifos, \(entries.whiteouts) whiteouts, \(entries.opaqueDirectories) opaque, \
            \(entries.skipped) skipped
            implicit     \(result.implicitDirectories.count) parent directories created
            usage        \(result.usage.bytes) bytes, \(result.usage.inodes) inodes
            time         \(String(format: "%.3f", seconds)) s, \(String(format: "%.1f", megabytes / max(seconds, 1e-9))) MB/s, \
            \(String(format: "%.0f", Double(entries.total) / max(seconds, 1e-9))) entries/s
            """)
    }
}

extension Output {
    static func printSummary(_ result: PullResult) {
        print("""
            \(result.image): \(result.layersUnpacked) layers unpacked, \(result.layersReused) reused (\(result.snapshotter))
            \(result.compressedBytes) bytes in, \(result.uncompressedBytes) bytes out, \(result.files) files, \
            \(String(format: "%.2f", result.seconds)) s, \(String(format: "%.1f", result.megabytesPerSecond)) MB/s
            """)
    }
}

/// `apply-layer --json` on success.
struct ApplyReport: Encodable {
    var result: LayerApplyResult
    var directory: String
    var seconds: Double

    enum CodingKeys: String, CodingKey { case ok, directory, seconds, result }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(true, forKey: .ok)
        try container.encode(directory, forKey: .directory)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(result, forKey: .result)
    }
}

/// `apply-layer --json` on failure: what failed and which directory to discard.
struct ApplyFailure: Encodable {
    var error: LayerError
    var directory: String

    enum CodingKeys: String, CodingKey { case ok, code, layer, entry, message, description, discard }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(false, forKey: .ok)
        try container.encode(error.code, forKey: .code)
        try container.encode(error.layer, forKey: .layer)
        try container.encodeIfPresent(error.entry, forKey: .entry)
        try container.encode(error.message, forKey: .message)
        try container.encode(error.description, forKey: .description)
        try container.encode(directory, forKey: .discard)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
