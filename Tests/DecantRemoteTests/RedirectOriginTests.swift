import Foundation
@testable import DecantRemote
import Testing

/// Where a redirect may carry the registry's Authorization header: to the registry's own origin
/// only. The hops themselves are tested against a real registry in `RegistryPullTests`.
@Suite struct RedirectOriginTests {
    @Test(arguments: [
        ("https://registry.example/v2/x/blobs/sha256:1", true),
        ("https://REGISTRY.example:443/other", true),
        ("http://registry.example/v2/x/blobs/sha256:1", false),  // down to plain HTTP
        ("https://registry.example:5000/v2/", false),
        ("https://cdn.example/blob", false),
        ("https://registry.example.cdn.example/blob", false),
    ])
    func authorizationStaysOnTheRegistrysOrigin(location: String, same: Bool) throws {
        let origin = URL(string: "https://registry.example/v2/x/blobs/sha256:1")
        #expect(RegistryClient.sameOrigin(try #require(URL(string: location)), origin) == same)
    }

    @Test func aPlainHTTPOriginKeepsItsPort() throws {
        let origin = URL(string: "http://127.0.0.1:5000/v2/")
        #expect(RegistryClient.sameOrigin(try #require(URL(string: "http://127.0.0.1:5000/v2/y")), origin))
        #expect(!RegistryClient.sameOrigin(try #require(URL(string: "http://127.0.0.1/v2/y")), origin))
        #expect(!RegistryClient.sameOrigin(try #require(URL(string: "http://127.0.0.2:5000/v2/y")), origin))
    }
}
