import Decant
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Pull progress for people: on a terminal, one bar per layer redrawn in place; otherwise one
/// plain line per layer as it is extracted, reused or committed.
final class ProgressPrinter: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private let terminal = isatty(STDOUT_FILENO) == 1
    /// Layers by index: digest and the latest bytes/total, for the bars.
    private var bars: [Int: (digest: String, bytes: Int64, total: Int64, state: String)] = [:]
    /// Layers by index: entries and file bytes written so far.
    private var written: [Int: (entries: String, bytes: Int64)] = [:]
    private var drawnLines = 0

    func emit(_ event: Event) {
        lock.withLock {
            let layer = event.layer.map { String($0.prefix(19)) } ?? ""
            switch event.type {
            case "unpack-start":
                line("unpacking \(event.image ?? "") (\(event.detail?["layers"] ?? "?") layers, \(event.detail?["snapshotter"] ?? ""))")
            case "layer-progress" where terminal:
                guard let index = event.detail?["index"].flatMap(Int.init) else { return }
                let bytes = event.detail?["bytes"].flatMap(Int64.init) ?? 0
                let total = event.detail?["total"].flatMap(Int64.init) ?? 0
                // A tick that raced the layer's end must not bring its bar back.
                if let existing = bars[index], existing.state != "extracting" { return }
                bars[index] = (layer, bytes, total, "extracting")
                written[index] = (event.detail?["entries"] ?? "0", event.detail?["written"].flatMap(Int64.init) ?? 0)
                redraw()
            case "layer-extracted":
                if terminal { markDone(layer, "extracted \(event.detail?["entries"] ?? "?") entries") } else {
                    line("  extracted \(layer)  \(event.detail?["entries"] ?? "?") entries in \(event.detail?["seconds"] ?? "?") s")
                }
            case "layer-reused":
                line("  reused    \(layer)  already unpacked")
            case "layer-blob-wait":
                line("  waiting   \(layer)  another writer is storing its blob")
            case "layer-restart":
                line("  restart   \(layer)  the \(event.detail?["offset"] ?? "?") bytes an earlier pull left were not its blob's; reading it all again")
            case "snapshot-commit":
                if terminal { markDone(layer, "committed") } else {
                    line("  committed \(String((event.snapshot ?? "").prefix(19)))")
                }
            default:
                break
            }
        }
    }

    private func line(_ text: String) {
        try? Output.write(Data((text + "\n").utf8), to: .standardOutput, name: "standard output")
        drawnLines = 0
    }

    private func markDone(_ layer: String, _ state: String) {
        for (index, bar) in bars where bar.digest == layer {
            bars[index] = (bar.digest, bar.total, bar.total, state)
        }
        redraw()
    }

    private func redraw() {
        var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        for (index, bar) in bars.sorted(by: { $0.key < $1.key }) {
            let fraction = bar.total > 0 ? min(1, Double(bar.bytes) / Double(bar.total)) : 1
            let filled = Int(fraction * 30)
            text += "\u{1B}[2K  \(bar.digest) [\(String(repeating: "=", count: filled))\(String(repeating: " ", count: 30 - filled))] "
            text += String(format: "%5.1f%% ", fraction * 100) + "of \(bar.total / 1_000_000) MB  \(bar.state)"
            if bar.state == "extracting", let done = written[index] {
                text += "  \(done.entries) entries, \(done.bytes / 1_000_000) MB written"
            }
            text += "\n"
        }
        try? Output.write(Data(text.utf8), to: .standardOutput, name: "standard output")
        drawnLines = bars.count
    }
}
