import AsyncHTTPClient
@testable import DecantRemote
import NIOCore
import NIOPosix
import Testing

/// How much a registry connection reads at once.
struct RegistryConnectionReadsTests {
    /// Answers the first request on a connection with `bodySize` bytes, in one write.
    private final class OneLargeResponse: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let bodySize: Int

        init(bodySize: Int) { self.bodySize = bodySize }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var response = context.channel.allocator.buffer(capacity: bodySize + 128)
            response.writeString("HTTP/1.1 200 OK\r\nContent-Length: \(bodySize)\r\n\r\n")
            response.writeRepeatingByte(7, count: bodySize)
            context.writeAndFlush(wrapOutboundOut(response), promise: nil)
        }
    }

    /// The largest body part and the total an HTTP client with `configuration` receives for an
    /// 8 MiB response over loopback.
    private static func largestPart(with configuration: HTTPClient.Configuration, from port: Int,
                                    on group: any EventLoopGroup) async throws -> (largest: Int, total: Int) {
        let client = HTTPClient(eventLoopGroup: group, configuration: configuration)
        do {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"), timeout: .seconds(60))
            var largest = 0
            var total = 0
            for try await part in response.body {
                largest = max(largest, part.readableBytes)
                total += part.readableBytes
            }
            try await client.shutdown()
            return (largest, total)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The client's connections hand a blob's body over in parts of up to 256 KiB, where NIO's
    /// defaults stop at 64 KiB (checked with the same server, to show the premise holds).
    @Test func aBodyArrivesInPartsLargerThan64KiB() async throws {
        let bodySize = 8 << 20
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OneLargeResponse(bodySize: bodySize))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)

        let tuned = try await Self.largestPart(with: RegistryClient.httpConfiguration(), from: port, on: group)
        #expect(tuned.total == bodySize)
        #expect(tuned.largest > 64 << 10 && tuned.largest <= RegistryConnectionReads.maximum, "\(tuned.largest)")

        let plain = try await Self.largestPart(with: HTTPClient.Configuration(), from: port, on: group)
        #expect(plain.total == bodySize)
        #expect(plain.largest <= 64 << 10, "NIO's default changed: \(plain.largest)")

        try await server.close()
        try await group.shutdownGracefully()
    }
}
