import DecantIO
import Foundation

/// Runs helper programs (the fixture scripts, containerd, tar) and captures what they print.
public enum Shell {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `arguments[0]` (looked up in PATH) with the rest as arguments, and waits for it.
    @discardableResult
    public static func run(_ arguments: [String], in directory: URL? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read stderr on another thread while stdout is read here, so that neither pipe can fill
        // up and stall the process.
        final class Box: @unchecked Sendable { var data = Data() }
        let errorBox = Box()
        let errorDone = DispatchSemaphore(value: 0)
        let errorHandle = stderr.fileHandleForReading
        Thread {
            errorBox.data = errorHandle.readDataToEndOfFile()
            errorDone.signal()
        }.start()
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        errorDone.wait()
        process.waitUntilExit()
        let errorData = errorBox.data
        return Output(status: process.terminationStatus,
                      stdout: String(decoding: outputData, as: UTF8.self),
                      stderr: String(decoding: errorData, as: UTF8.self))
    }

    /// Runs and requires exit status 0.
    @discardableResult
    public static func check(_ arguments: [String], in directory: URL? = nil) throws -> Output {
        let output = try run(arguments, in: directory)
        guard output.status == 0 else {
            throw Failure(message: "\(arguments.joined(separator: " ")) exited \(output.status): \(output.stderr)\(output.stdout)")
        }
        return output
    }

    /// ``run(_:in:)`` on a thread of its own: the task waits without holding a thread of the
    /// cooperative pool, which on a two-core machine is two threads for every test at once.
    @discardableResult
    public static func run(_ arguments: [String], in directory: URL? = nil) async throws -> Output {
        try await BlockingWork.run("test-shell") { try run(arguments, in: directory) }
    }

    /// ``check(_:in:)`` on a thread of its own, as the asynchronous ``run(_:in:)``.
    @discardableResult
    public static func check(_ arguments: [String], in directory: URL? = nil) async throws -> Output {
        try await BlockingWork.run("test-shell") { try check(arguments, in: directory) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }

        public init(message: String) {
            self.message = message
        }
    }
}
