import ArgumentParser
import DecantStore
import Foundation

/// `--root` (or `DECANT_ROOT`) and `--json`, shared by every store command.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store's root directory (default: $DECANT_ROOT, else /var/lib/decant).")
    var root: String?

    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false

    func open() throws -> Store {
        try Store(layout: StoreLayout.resolve(root))
    }

    /// Runs `body` against the store; a store error is printed (as JSON with `--json`) and the
    /// command exits 1.
    func run(_ body: (Store) throws -> Void) throws {
        do {
            try body(try open())
        } catch let error as StoreError {
            if json { try? Output.printJSON(StoreFailure(code: error.code.rawValue, message: error.description)) }
            Output.printError(error.description)
            throw ExitCode(1)
        }
    }

    /// Prints `value` as JSON, or `table()` for people.
    func print(_ value: some Encodable, table: () -> String) throws {
        if json { try Output.printJSON(value) } else { Swift.print(table(), terminator: "") }
    }
}

struct StoreFailure: Encodable {
    var ok = false
    var code: String
    var message: String
}

/// `key=value` arguments for labels; `key=` (empty) removes a label.
func parseLabels(_ pairs: [String]) throws -> [String: String] {
    var labels: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "=") else {
            throw ValidationError("label \(pair.debugDescription) is not KEY=VALUE")
        }
        labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return labels
}
