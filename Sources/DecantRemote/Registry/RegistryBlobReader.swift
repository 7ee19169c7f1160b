import AsyncHTTPClient
import DecantIO
import DecantOCI
import Foundation
import NIOCore
import NIOHTTP1

/// A layer blob streamed from a registry into the thread that reads it. A transfer that breaks
/// (connection reset, a stall, a truncated body) resumes where it stopped with a Range request,
/// so every byte is received once and the ingest that tees the stream stays contiguous.
public final class RegistryBlobReader: BlobStream {
    private let queue: BlobByteQueue
    private let task: Task<Void, Never>

    init(client: RegistryClient, descriptor: Descriptor, offset: Int64) {
        let queue = BlobByteQueue(location: "\(client.image.domain)/\(client.image.repository)@\(descriptor.digest)")
        self.queue = queue
        self.task = Task(executorPreference: client.transferExecutor()) {
            await Self.transfer(client: client, descriptor: descriptor, offset: offset, queue: queue)
        }
    }

    deinit {
        queue.closeReader()
        task.cancel()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        try queue.read(into: buffer)
    }

    public var failure: RemoteError? { queue.failure }

    public func cancel() {
        queue.cancel()
        task.cancel()
    }

    public var readerWaiting: Duration { queue.readerWaiting }

    private struct Interrupted: Error, CustomStringConvertible {
        var description: String
    }

    private static func transfer(client: RegistryClient, descriptor: Descriptor, offset: Int64, queue: BlobByteQueue) async {
        let what = "blob \(descriptor.digest)"
        let path = "/\(client.image.repository)/blobs/\(descriptor.digest)"
        let options = client.options
        var endpoint: RegistryEndpoint?
        var failures = 0
        while true {
            let received = offset + queue.produced
            if received == descriptor.size && received > offset {
                queue.finish(.success(()))
                return
            }
            await DownloadLimiter.shared.acquire(client.image.domain, limit: options.downloadsPerHost)
            queue.transferring(true)
            let outcome: Result<Bool, any Error>
            do {
                queue.markProgress()
                let response: RegistryResponse
                let start = received > 0 ? received : nil
                if let endpoint {
                    response = try await client.send(.GET, path, to: endpoint, headers: [:], rangeStart: start,
                                                     deadline: .distantFuture, headTimeout: options.stallTimeout, what: what)
                } else {
                    response = try await client.send(.GET, path, capability: .pull, rangeStart: start, deadline: .distantFuture,
                                                     headTimeout: options.stallTimeout, what: what)
                }
                endpoint = response.endpoint
                outcome = .success(try await stream(response, from: received, offset: offset, descriptor: descriptor, queue: queue, stall: options.stallTimeout))
            } catch {
                outcome = .failure(error)
            }
            queue.transferring(false)
            DownloadLimiter.shared.release(client.image.domain)
            switch outcome {
            case .success(let readerGone):
                if readerGone { return }
                let now = offset + queue.produced
                if now == descriptor.size {
                    queue.finish(.success(()))
                    return
                }
                // The body ended early without an error (a close with no Content-Length).
                if now > received { failures = 0 }
                failures += 1
                if failures >= options.maxAttempts {
                    queue.finish(.failure(RemoteError(.io, "\(what): the transfer ended at \(now) of \(descriptor.size) bytes \(failures) times")))
                    return
                }
                client.logger.info("\(what): the transfer ended at \(now) of \(descriptor.size) bytes; resuming")
            case .failure(let error):
                if Task.isCancelled || error is CancellationError {
                    queue.finish(.failure(RemoteError(.io, "\(what): the transfer was cancelled")))
                    return
                }
                if let error = error as? RemoteError {
                    // Statuses and authentication were retried already where that makes sense.
                    queue.finish(.failure(error))
                    return
                }
                let now = offset + queue.produced
                if now > received { failures = 0 }
                failures += 1
                guard failures < options.maxAttempts else {
                    queue.finish(.failure(RemoteError(.unavailable,
                        "\(what): the transfer broke \(failures) times, last at \(now) of \(descriptor.size) bytes: \(RegistryClient.describe(error))")))
                    return
                }
                let wait = client.backoff(failures)
                client.logger.info("\(what): the transfer broke at \(now) of \(descriptor.size) bytes (\(RegistryClient.describe(error))); resuming with a Range request in \(wait)")
                try? await Task.sleep(for: wait)
            }
        }
    }

    /// Pushes the response body into the queue, dropping bytes before `received` if the server
    /// ignored the Range header (`offset` is where this reader started). `true` when the reader has gone. Throws when the connection
    /// breaks or stalls.
    private static func stream(_ response: RegistryResponse, from received: Int64, offset: Int64, descriptor: Descriptor, queue: BlobByteQueue,
                               stall: Duration) async throws -> Bool {
        var ignoredRange = false
        if received > 0 {
            if response.response.status.code == 206 {
                guard let range = response.response.headers.first(name: "Content-Range"),
                      range.hasPrefix("bytes \(received)-") else {
                    throw RemoteError(.io, "blob \(descriptor.digest): asked \(response.endpoint.host) for bytes from \(received) and got \(response.response.headers.first(name: "Content-Range") ?? "no Content-Range")")
                }
            } else {
                ignoredRange = true
            }
        }
        let skipBytes = ignoredRange ? received : 0
        let body = response.response.body
        let limit = descriptor.size
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                var skip = skipBytes
                for try await var buffer in body {
                    if skip > 0 {
                        let drop = Int(min(skip, Int64(buffer.readableBytes)))
                        buffer.moveReaderIndex(forwardBy: drop)
                        skip -= Int64(drop)
                        // Bytes had already still show a live connection: without this, skipping
                        // back to a far offset looked like a stall and was given up.
                        queue.markProgress()
                        if buffer.readableBytes == 0 { continue }
                    }
                    if offset + queue.produced + Int64(buffer.readableBytes) > limit {
                        throw RemoteError(.digestMismatch, "blob \(descriptor.digest): \(response.endpoint.host) sent more than the descriptor's \(limit) bytes (size mismatch)")
                    }
                    if !(await queue.push(buffer)) { return true }
                }
                return false
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: min(stall / 4, .seconds(1)))
                    if queue.isStalled(after: stall) {
                        throw Interrupted(description: "no data for \(stall)")
                    }
                }
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
    }
}
