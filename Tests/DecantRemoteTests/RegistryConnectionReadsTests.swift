@testable import DecantRemote
import NIOCore
import NIOPosix
import Testing

/// How much a registry connection reads at once.
struct RegistryConnectionReadsTests {
    /// The client's HTTP/1 and HTTP/2 connections both read up to 256 KiB at once, not NIO's
    /// 64 KiB. Checked on a real TCP connection over loopback.
    @Test func theClientsConnectionsReadUpTo256KiB() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: group).connect(to: server.localAddress!).get()
        let before = try await client.getOption(ChannelOptions.recvAllocator).get() as? AdaptiveRecvByteBufferAllocator
        #expect(before?.maximum == 65536, "NIO's default changed: \(String(describing: before))")
        let configuration = RegistryClient.httpConfiguration()
        for initializer in [configuration.http1_1ConnectionDebugInitializer, configuration.http2ConnectionDebugInitializer] {
            try await client.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator()).get()
            guard let initializer else {
                Issue.record("a connection initializer is missing")
                continue
            }
            try await initializer(client).get()
            let allocator = try await client.getOption(ChannelOptions.recvAllocator).get() as? AdaptiveRecvByteBufferAllocator
            #expect(allocator?.maximum == 256 << 10, "\(String(describing: allocator))")
        }
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}
