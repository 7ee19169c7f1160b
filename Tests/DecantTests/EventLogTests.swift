import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Testing

/// The store's event log: every pull appends to it, so it is rotated, and `decant events` prints
/// both files in order.
struct EventLogTests {
    @Test func aFullLogIsRotatedAndPrintedInOrder() throws {
        let scratch = try Scratch("event-log")
        let layout = StoreLayout(root: scratch.url.path)
        let old = String(repeating: "{\"type\":\"old\"}\n", count: 10)
        try Data(old.utf8).write(to: URL(fileURLWithPath: layout.eventLog))

        // Below the limit: appended to.
        try JSONLinesEventSink.appending(Event(type: "kept"), to: layout.eventLog, limit: 1 << 20)
        let appended = try String(contentsOfFile: layout.eventLog, encoding: .utf8)
        #expect(appended.hasPrefix(old) && appended.contains("\"kept\""))
        #expect(!FileManager.default.fileExists(atPath: layout.previousEventLog))

        // At the limit: the log moves to events.log.1 and a new one starts.
        try JSONLinesEventSink.appending(Event(type: "new"), to: layout.eventLog, limit: Int64(old.utf8.count))
        #expect(try String(contentsOfFile: layout.previousEventLog, encoding: .utf8) == appended)
        let current = try String(contentsOfFile: layout.eventLog, encoding: .utf8)
        #expect(current.split(separator: "\n").count == 1 && current.contains("\"new\""))

        let printed = try Shell.check(["env", "DECANT_ROOT=\(layout.root)", Repository.decant, "events"]).stdout
        #expect(printed == appended + current)
    }
}

extension JSONLinesEventSink {
    /// One event through a sink opened as `decant pull` opens the store's.
    static func appending(_ event: Event, to path: String, limit: Int64) throws {
        try JSONLinesEventSink(path: path, rotatingAt: limit).emit(event)
    }
}
