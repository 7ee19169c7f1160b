import DecantOCI
@testable import DecantRemote
import Testing

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("alpine", "docker.io/library/alpine:latest"),
        ("alpine:3.19", "docker.io/library/alpine:3.19"),
        ("library/alpine", "docker.io/library/alpine:latest"),
        ("docker.io/alpine", "docker.io/library/alpine:latest"),
        ("index.docker.io/library/alpine:edge", "docker.io/library/alpine:edge"),
        ("team/app", "docker.io/team/app:latest"),
        ("ghcr.io/org/app:1.4", "ghcr.io/org/app:1.4"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/a/b/c:v1", "localhost:5000/a/b/c:v1"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("registry.example.com/team/app:1.4", "registry.example.com/team/app:1.4"),
        ("my-reg.io/a__b/c.d/e-f:tag_1.2-x", "my-reg.io/a__b/c.d/e-f:tag_1.2-x"),
    ])
    func normalizes(_ input: String, _ expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test func splitsDomainRepositoryTagAndDigest() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let reference = try ImageReference(parsing: "127.0.0.1:5000/team/app:1.4@\(digest)")
        #expect(reference.domain == "127.0.0.1:5000")
        #expect(reference.repository == "team/app")
        #expect(reference.tag == "1.4")
        #expect(reference.digest?.description == digest)
        // The digest pins the content, so it is what the manifest request names.
        #expect(reference.manifestReference == digest)
        let byDigest = try ImageReference(parsing: "alpine@\(digest)")
        #expect(byDigest.tag == nil)
        #expect(byDigest.description == "docker.io/library/alpine@\(digest)")
    }

    @Test(arguments: ["", "Alpine", "alpine:", "alpine@sha256:1234", "a//b", "host.io/-app", "app:.tag", "host.io/app_"])
    func rejects(_ input: String) {
        #expect(throws: RemoteError.self) { try ImageReference(parsing: input) }
    }
}

@Suite struct AuthChallengeTests {
    @Test func parsesBearer() throws {
        let challenge = try #require(AuthChallenge(header:
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#))
        #expect(challenge.scheme == .bearer)
        #expect(challenge.realm == "https://auth.docker.io/token")
        #expect(challenge.service == "registry.docker.io")
        #expect(challenge.scope == "repository:library/alpine:pull,push")
    }

    @Test func parsesBasicAndUnquotedValues() throws {
        let basic = try #require(AuthChallenge(header: #"Basic realm="Registry Realm""#))
        #expect(basic.scheme == .basic)
        #expect(basic.realm == "Registry Realm")
        let unquoted = try #require(AuthChallenge(header: "bearer realm=https://t.example/token, service=reg"))
        #expect(unquoted.realm == "https://t.example/token")
        #expect(unquoted.service == "reg")
    }

    @Test func ignoresSchemesItDoesNotSpeak() {
        #expect(AuthChallenge(header: #"Digest realm="x", nonce="y""#) == nil)
        #expect(AuthChallenge(header: "") == nil)
    }
}
