@testable import DecantRemote
import Foundation
import Testing

@Suite struct RegistryHostsTests {
    private func withHostsFile(_ host: String, _ text: String, _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("decant-hosts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/" + host, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/\(host)/hosts.toml", atomically: true, encoding: .utf8)
        try body(directory)
    }

    @Test func defaultsToHTTPSUpstreamWithLoopbackFallback() throws {
        let hub = try RegistryHosts(directory: "/nonexistent").endpoints(for: "docker.io")
        #expect(hub.map(\.baseURL) == ["https://registry-1.docker.io/v2"])
        #expect(hub[0].allowsHTTPFallback == false)
        let local = try RegistryHosts(directory: "/nonexistent").endpoints(for: "127.0.0.1:5000")
        #expect(local.map(\.baseURL) == ["https://127.0.0.1:5000/v2"])
        #expect(local[0].allowsHTTPFallback)
        let plain = try RegistryHosts(directory: "/nonexistent", plainHTTP: true).endpoints(for: "registry.internal")
        #expect(plain.map(\.baseURL) == ["http://registry.internal/v2"])
    }

    /// Also written on Windows (CRLF), where a comment must not swallow the rest of the file.
    @Test(arguments: ["\n", "\r\n"]) func readsContainerdHostsToml(lineEnding: String) throws {
        let lines = """
            # mirrors first, then the server
            server = "https://registry-1.docker.io"
            ca = "/etc/ca-upstream.pem"

            [host."http://127.0.0.1:5001"]
              capabilities = ["pull", "resolve"]

            [host."https://mirror.internal:5000/prefix"]
              capabilities = [
                "pull",
              ]
              ca = ["/etc/mirror-ca.pem", '/etc/other.pem']
              skip_verify = true
              override_path = true
              [host."https://mirror.internal:5000/prefix".header]
                x-team = "infra"
            """
        let text = lines.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: lineEnding)
        try withHostsFile("docker.io", text) { directory in
            let endpoints = try RegistryHosts(directory: directory).endpoints(for: "docker.io")
            try #require(endpoints.map(\.baseURL) == ["http://127.0.0.1:5001/v2", "https://mirror.internal:5000/prefix",
                                                       "https://registry-1.docker.io/v2"])
            #expect(endpoints[0].isMirror && endpoints[1].isMirror && !endpoints[2].isMirror)
            #expect(endpoints[1].capabilities == [.pull])
            #expect(endpoints[1].caFiles == ["/etc/mirror-ca.pem", "/etc/other.pem"])
            #expect(endpoints[1].skipVerify)
            #expect(endpoints[1].headers == ["x-team": ["infra"]])
            #expect(endpoints[2].caFiles == ["/etc/ca-upstream.pem"])
        }
    }

    @Test func refusesWhatItDoesNotUnderstand() throws {
        try withHostsFile("example.com", "server = \"https://example.com\"\n[host.\"https://m\"]\n  client = \"/cert.pem\"\n") { directory in
            let error = #expect(throws: RemoteError.self) { try RegistryHosts(directory: directory).endpoints(for: "example.com") }
            #expect(error?.message.contains("hosts.toml:3: client certificates are not supported") == true)
        }
        try withHostsFile("example.com", "server = https://unquoted\n") { directory in
            let error = #expect(throws: RemoteError.self) { try RegistryHosts(directory: directory).endpoints(for: "example.com") }
            #expect(error?.message.contains("line 1") == true)
        }
    }
}
