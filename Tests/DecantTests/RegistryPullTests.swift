import Decant
import DecantOCI
import DecantRemote
import DecantStore
import DecantTestSupport
import Foundation
import Testing

/// `decant pull` from a real registry (Debian's docker-registry 2.8 on 127.0.0.1, images pushed
/// by skopeo), with basic and bearer authentication, mirrors, and a proxy that cuts, corrupts,
/// redirects and fails transfers.
@Suite(.serialized) struct RegistryPullTests {
    private func freshStore(_ label: String) throws -> (Scratch, Store) {
        let scratch = try Scratch(label)
        return (scratch, try Store(layout: StoreLayout(root: scratch.url.appendingPathComponent("root").path)))
    }

    /// Registry options that read no `~/.docker/config.json` and no `/etc/decant/certs.d`, retry
    /// quickly, and trust `ca`.
    private func options(user: String? = nil, ca: String? = nil, hostsDirectory: String = "/nonexistent",
                         dockerConfig: String = "/nonexistent/config.json", environment: [String: String] = [:],
                         helperTimeout: Duration = .seconds(60), platform: String? = nil, stallTimeout: Duration = .seconds(5),
                         discardUnpackedLayers: Bool = false) throws -> PullOptions {
        let registry = RegistryOptions(
            hosts: RegistryHosts(directory: hostsDirectory, caFiles: ca.map { [$0] } ?? []),
            credentials: RegistryCredentials(explicit: try credential(user), dockerConfigPath: dockerConfig,
                                             environment: environment, helperTimeout: helperTimeout),
            maxAttempts: 4, initialBackoff: .milliseconds(50), stallTimeout: stallTimeout)
        return PullOptions(platform: try platform.map { try Platform(parsing: $0) }, registry: registry,
                           discardUnpackedLayers: discardUnpackedLayers)
    }

    private func credential(_ text: String?) throws -> RegistryCredential? {
        guard let text else { return nil }
        return try RegistryCredential(parsing: text)
    }

    private func expectSameTree(_ directory: String, _ reference: URL, ignoring: [String], scratch: Scratch, _ label: String) throws {
        let dump = scratch.url.appendingPathComponent("dump-\(UUID().uuidString.prefix(6)).json")
        try Trees.dump(URL(fileURLWithPath: directory), to: dump)
        let differences = try Trees.differences(dump, reference, ignoringMTimeOf: ignoring)
        #expect(differences == nil, "\(label): \(differences ?? "")")
    }

    /// Each layer's snapshot holds what containerd's holds for layer `index` of fixture `image`.
    private func expectLayersMatchContainerd(_ result: PullResult, _ fixtures: ImageFixtures, _ image: String, scratch: Scratch) throws {
        for layer in result.layers {
            try expectSameTree(layer.directory, fixtures.reference(image, "layer-\(layer.index)"),
                               ignoring: fixtures.unstableMTimes(image, "layer-\(layer.index)"), scratch: scratch, "layer \(layer.index)")
        }
    }

    /// Every image, content blob, snapshot and ingest of a store, to compare before and after.
    private func state(_ store: Store) throws -> [String] {
        try store.images.list().map(\.name) + store.content.list().map(\.digest.description)
            + store.overlay.walk(filters: []).map { "\($0.name) \($0.kind)" } + store.content.ingests().map(\.ref)
    }

    private func pullError(_ body: () async throws -> PullResult) async -> PullError? {
        do {
            _ = try await body()
            return nil
        } catch let error as PullError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func tagAndDigestPullsMatchContainerd() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        let digest = try await registry.push(layout: fixtures.path("multi"), to: "team/multi:v1")
        let (scratch, store) = try freshStore("registry-tag")
        let result = try await Puller(store: store).pull("\(registry.host)/team/multi:v1", options: try options())
        #expect(result.image == "\(registry.host)/team/multi:v1")
        #expect(result.manifest.description == digest)
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        try expectLayersMatchContainerd(result, fixtures, "multi", scratch: scratch)
        #expect(try store.images.list().map(\.name) == ["\(registry.host)/team/multi:v1"])
        // Every blob verified and kept in the content store.
        for layer in result.layers { #expect(store.content.contains(layer.digest)) }

        for reference in ["\(registry.host)/team/multi@\(digest)", "\(registry.host)/team/multi:v1@\(digest)"] {
            let (otherScratch, other) = try freshStore("registry-digest")
            defer { withExtendedLifetime(otherScratch) {} }
            let byDigest = try await Puller(store: other).pull(reference, options: try options())
            #expect(byDigest.manifest.description == digest)
            #expect(byDigest.layers.map(\.chainID) == result.layers.map(\.chainID))
        }

        // Pulling again downloads nothing: every layer is reused.
        let again = try await Puller(store: store).pull("\(registry.host)/team/multi:v1", options: try options())
        #expect(again.layersReused == again.layers.count)

        let missing = await pullError { try await Puller(store: store).pull("\(registry.host)/team/multi:nope", options: try options()) }
        #expect(missing?.code == "not-found")
        #expect(missing?.message.contains("manifest nope not found") == true, "\(missing?.message ?? "")")
    }

    @Test func aMultiPlatformIndexServesEachPlatform() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        let index = try await registry.push(layout: fixtures.path("platforms"), to: "team/platforms:v1", all: true)
        var manifests: Set<String> = []
        for platform in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
            let (scratch, store) = try freshStore("registry-platform")
            defer { withExtendedLifetime(scratch) {} }
            let result = try await Puller(store: store).pull("\(registry.host)/team/platforms:v1", options: try options(platform: platform))
            #expect(result.platform?.hasPrefix(platform) == true, "\(result.platform ?? "none") for \(platform)")
            manifests.insert(result.manifest.description)
            // The image is recorded by its index, as containerd does.
            #expect(try store.images.list().first?.digest == index)
            // The same platform from the OCI layout gives the same snapshots.
            let (localScratch, local) = try freshStore("local-platform")
            defer { withExtendedLifetime(localScratch) {} }
            let fromLayout = try await Puller(store: local).pull("oci:" + fixtures.path("platforms") + ":latest",
                                                                   options: PullOptions(platform: try Platform(parsing: platform)))
            #expect(fromLayout.layers.map(\.chainID) == result.layers.map(\.chainID))
        }
        #expect(manifests.count == 3)
        let (scratch, store) = try freshStore("registry-no-platform")
        defer { withExtendedLifetime(scratch) {} }
        let error = await pullError {
            try await Puller(store: store).pull("\(registry.host)/team/platforms:v1", options: try options(platform: "linux/s390x"))
        }
        #expect(error?.code == "not-found")
        #expect(error?.message.contains("no image for platform linux/s390x") == true, "\(error?.message ?? "")")
        #expect(try state(store).isEmpty)
    }

    /// The registry that asks for a password, over TLS, with fixture `image` pushed as `repository`.
    private func basicTLSRegistry(_ fixtures: ImageFixtures, _ image: String,
                                  as repository: String) async throws -> (registry: RegistryServer, ca: String, reference: String) {
        let registry = try await RegistryServer("basic-tls")
        let ca = try #require(registry.info.ca)
        try await registry.push(layout: fixtures.path(image), to: repository)
        return (registry, ca, "\(registry.host)/\(repository)")
    }

    @Test func basicAuthenticationOverTLS() async throws {
        let fixtures = try await ImageFixtures.get()
        let (registry, ca, reference) = try await basicTLSRegistry(fixtures, "shared-a", as: "team/app:1.4")
        let (scratch, store) = try freshStore("registry-basic")

        let anonymous = await pullError { try await Puller(store: store).pull(reference, options: try options(ca: ca)) }
        #expect(anonymous?.code == "unauthorized")
        #expect(anonymous?.message.contains("401 Unauthorized") == true, "\(anonymous?.message ?? "")")
        #expect(anonymous?.message.contains("--user") == true)
        let wrong = await pullError { try await Puller(store: store).pull(reference, options: try options(user: "decant:wrong", ca: ca)) }
        #expect(wrong?.code == "unauthorized")
        #expect(wrong?.message.contains("credentials for \(registry.host) were refused") == true, "\(wrong?.message ?? "")")
        #expect(try state(store).isEmpty)

        let result = try await Puller(store: store).pull(reference, options: try options(user: "decant:decant-secret", ca: ca))
        #expect(result.layers.map(\.chainID.description) == fixtures.image("shared-a").chainIDs)

        // The same credentials from a docker config file (what `docker login` writes).
        let config = scratch.url.appendingPathComponent("config.json")
        let auth = Data("decant:decant-secret".utf8).base64EncodedString()
        try Data(#"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}}}"#.utf8).write(to: config)
        let (otherScratch, other) = try freshStore("registry-docker-config")
        defer { withExtendedLifetime(otherScratch) {} }
        let fromConfig = try await Puller(store: other).pull(reference, options: try options(ca: ca, dockerConfig: config.path))
        #expect(fromConfig.layers.map(\.chainID) == result.layers.map(\.chainID))

        // Without the CA the certificate is not trusted, and plain HTTP does not answer either.
        let (untrustedScratch, untrusted) = try freshStore("registry-untrusted")
        defer { withExtendedLifetime(untrustedScratch) {} }
        let notTrusted = await pullError { try await Puller(store: untrusted).pull(reference, options: try options(user: "decant:decant-secret")) }
        #expect(notTrusted != nil)
        #expect(try state(untrusted).isEmpty)
    }

    @Test func credentialHelpersNamedInTheDockerConfig() async throws {
        let fixtures = try await ImageFixtures.get()
        let (registry, ca, reference) = try await basicTLSRegistry(fixtures, "shared-a", as: "team/helped:v1")
        let (scratch, store) = try freshStore("registry-helpers")
        defer { withExtendedLifetime(scratch) {} }

        // Helpers as `docker login` leaves them configured, found on the PATH they are given.
        let bin = try scratch.directory("bin")
        let asked = scratch.url.appendingPathComponent("asked.log")
        func helper(_ name: String, _ body: String) throws {
            let file = bin.appendingPathComponent("docker-credential-\(name)")
            try "#!/bin/sh\n\(body)\n".write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        // Knows this registry only, as docker-credential-pass and the cloud helpers do.
        try helper("decant-test", """
            [ "$1" = get ] || exit 2
            server=$(cat)
            echo "$server" >> '\(asked.path)'
            [ "$server" = '\(registry.host)' ] || { echo 'credentials not found in native keychain'; exit 1; }
            printf '{"ServerURL":"%s","Username":"decant","Secret":"decant-secret"}' "$server"
            """)
        try helper("decant-none", "echo 'credentials not found in native keychain'; exit 1")
        // Exits at once: it reads nothing and answers nothing.
        try helper("decant-silent", "exit 0")
        // Never answers (a keychain nobody unlocks), through a child that holds its output open.
        try helper("decant-hung", "sleep 30; echo '{}'")
        let environment = ["PATH": bin.path + ":/usr/bin:/bin"]
        func config(_ json: String) throws -> String {
            let file = scratch.url.appendingPathComponent("config-\(UUID().uuidString.prefix(6)).json")
            try Data(json.utf8).write(to: file)
            return file.path
        }
        func pull(_ json: String, into store: Store) async throws -> PullResult {
            try await Puller(store: store).pull(reference, options: try options(
                ca: ca, dockerConfig: try config(json), environment: environment, helperTimeout: .seconds(1)))
        }

        // A helper for this registry; then the helper for every registry (credsStore).
        let helped = try await pull(#"{"credHelpers":{"\#(registry.host)":"decant-test"}}"#, into: store)
        #expect(helped.layers.map(\.chainID.description) == fixtures.image("shared-a").chainIDs)
        let (storeScratch, other) = try freshStore("registry-creds-store")
        defer { withExtendedLifetime(storeScratch) {} }
        let stored = try await pull(#"{"credsStore":"decant-test"}"#, into: other)
        #expect(stored.layers.map(\.chainID) == helped.layers.map(\.chainID))
        #expect(try String(contentsOf: asked, encoding: .utf8) == "\(registry.host)\n\(registry.host)\n")

        // A helper without credentials leaves the pull anonymous; one that answers nothing, or is
        // not there, fails it, saying so. None of them leaves anything behind.
        let (failingScratch, failing) = try freshStore("registry-helpers-failing")
        defer { withExtendedLifetime(failingScratch) {} }
        let none = await pullError { try await pull(#"{"credHelpers":{"\#(registry.host)":"decant-none"}}"#, into: failing) }
        #expect(none?.code == "unauthorized")
        #expect(none?.message.contains("401 Unauthorized") == true, "\(none?.message ?? "")")
        let silent = await pullError { try await pull(#"{"credHelpers":{"\#(registry.host)":"decant-silent"}}"#, into: failing) }
        #expect(silent?.code == "unauthorized")
        #expect(silent?.message.contains("docker-credential-decant-silent answered something that is not its JSON") == true,
                "\(silent?.message ?? "")")
        let missing = await pullError { try await pull(#"{"credsStore":"decant-missing"}"#, into: failing) }
        #expect(missing?.code == "unauthorized")
        #expect(missing?.message.contains("docker-credential-decant-missing is not on the PATH") == true, "\(missing?.message ?? "")")
        let started = ContinuousClock.now
        let hung = await pullError { try await pull(#"{"credsStore":"decant-hung"}"#, into: failing) }
        // Well before the helper's 30 s sleep ends, with room for a busy machine.
        #expect(ContinuousClock.now - started < .seconds(20), "the helper was given up after 1 s")
        #expect(hung?.code == "unauthorized")
        #expect(hung?.message.contains("docker-credential-decant-hung did not answer within 1.0 seconds") == true, "\(hung?.message ?? "")")
        #expect(try state(failing).isEmpty)
    }

    @Test func bearerTokensFromATokenService() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("token")
        try await registry.push(layout: fixtures.path("multi"), to: "team/tokened:v1")
        let pushes = try registry.tokenRequests().count
        let reference = "\(registry.host)/team/tokened:v1"
        let (scratch, store) = try freshStore("registry-token")
        defer { withExtendedLifetime(scratch) {} }

        let anonymous = await pullError { try await Puller(store: store).pull(reference, options: try options()) }
        #expect(anonymous?.code == "unauthorized")
        #expect(anonymous?.message.contains("refused anonymous access for repository:team/tokened:pull") == true, "\(anonymous?.message ?? "")")
        #expect(try state(store).isEmpty)

        let before = try registry.tokenRequests().count
        let result = try await Puller(store: store).pull(reference, options: try options(user: "decant:decant-secret"))
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        let requests = try registry.tokenRequests().dropFirst(before)
        // One token for the whole pull (7 manifest and blob requests, 5 layers at once): cached per scope.
        #expect(requests.count == 1, "\(requests)")
        #expect(requests.first?["scopes"] as? [String] == ["repository:team/tokened:pull"])
        #expect(requests.first?["credentials"] as? Bool == true)
        #expect(pushes > 0)
    }

    @Test func aMirrorWithoutTheImageFallsBackToTheUpstream() async throws {
        let fixtures = try await ImageFixtures.get()
        let upstream = try await RegistryServer("plain")
        try await upstream.push(layout: fixtures.path("shared-b"), to: "team/mirrored:v1")
        let mirrorRegistry = try await RegistryServer("plain")
        let mirror = try await FaultProxy(upstream: mirrorRegistry, faults: [])
        let (scratch, store) = try freshStore("registry-mirror")
        let hosts = try scratch.directory("certs.d/\(upstream.host)")
        try """
            server = "http://\(upstream.host)"
            [host."http://\(mirror.host)"]
              capabilities = ["pull", "resolve"]
            """.write(to: hosts.appendingPathComponent("hosts.toml"), atomically: true, encoding: .utf8)
        let hostsDirectory = scratch.url.appendingPathComponent("certs.d").path
        let reference = "\(upstream.host)/team/mirrored:v1"
        let result = try await Puller(store: store).pull(reference, options: try options(hostsDirectory: hostsDirectory))
        #expect(result.layers.map(\.chainID.description) == fixtures.image("shared-b").chainIDs)
        let asked = try mirror.requests()
        #expect(asked.contains { ($0["path"] as? String)?.contains("/team/mirrored/manifests/v1") == true && $0["status"] as? Int == 404 },
                "the mirror was asked first: \(asked)")

        // Once the mirror has the image, the upstream is not needed at all.
        try await mirrorRegistry.push(layout: fixtures.path("shared-b"), to: "team/mirrored:v1")
        let upstreamLog = try String(contentsOfFile: upstream.info.log, encoding: .utf8)
        let (otherScratch, other) = try freshStore("registry-mirror-hit")
        defer { withExtendedLifetime(otherScratch) {} }
        _ = try await Puller(store: other).pull(reference, options: try options(hostsDirectory: hostsDirectory))
        #expect(try String(contentsOfFile: upstream.info.log, encoding: .utf8) == upstreamLog, "the upstream saw requests")
    }

    @Test func aCutTransferResumesWithARangeRequest() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/cut:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: ["--cut-after", "100000"])
        let (scratch, store) = try freshStore("registry-cut")
        let result = try await Puller(store: store).pull("\(proxy.host)/team/cut:v1", options: try options())
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        let biggest = try #require(result.layers.max { $0.size < $1.size })
        #expect(biggest.size > 100_000)
        try expectSameTree(biggest.directory, fixtures.reference("multi", "layer-\(biggest.index)"),
                           ignoring: fixtures.unstableMTimes("multi", "layer-\(biggest.index)"), scratch: scratch, "cut layer")
        let blob = try proxy.requests().filter { ($0["path"] as? String)?.hasSuffix("/blobs/\(biggest.digest)") == true }
        #expect(blob.first?["fault"] as? String == "cut")
        #expect(blob.first?["bytes"] as? Int == 100_000)
        // The rest came with a Range request, from where the bytes Decant had received ended
        // (the HTTP client may drop what it buffered when the connection broke).
        #expect(blob.count == 2, "\(blob)")
        let range = try #require(blob.last?["range"] as? String)
        let start = try #require(Int(range.dropFirst("bytes=".count).dropLast()))
        #expect(range.hasPrefix("bytes=") && range.hasSuffix("-") && start > 0 && start <= 100_000, "\(range)")
        #expect(blob.last?["status"] as? Int == 206)
        #expect(blob.last?["bytes"] as? Int == Int(biggest.size) - start)
        #expect(store.content.contains(biggest.digest))
    }

    /// A layer blob that another process held half-written, then gave up on: the pull, which
    /// extracted the layer from the registry meanwhile, asks only for the rest again (a Range
    /// request from where that writer stopped) and stores the blob.
    @Test func aBlobAnotherWriterGaveUpOnIsFetchedAgainFromWhereItStopped() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/other-writer:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: [])
        let (scratch, store) = try freshStore("registry-other-writer")
        defer { withExtendedLifetime(scratch) {} }
        let (layer, bytes) = try fixtures.biggestLayer("multi")
        let digest = try #require(Digest(layer.digest))
        let half = bytes.count / 2
        let other = try Store(layout: StoreLayout(root: store.layout.root))
        var writer: IngestWriter? = try other.content.writer(ref: "layer-" + layer.digest, expected: digest, total: Int64(bytes.count))
        try writer?.write(Array(bytes[..<half]))

        let events = EventLog()
        var options = try options()
        options.events = events
        let pulling = Task { [options] in try await Puller(store: store).pull("\(proxy.host)/team/other-writer:v1", options: options) }
        let waits = try await eventually { events.all.contains { $0.type == "layer-blob-wait" && $0.layer == layer.digest } }
        #expect(waits, "the pull waits for the other writer")
        writer = nil
        let result = try await pulling.value

        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        #expect(result.layers.map(\.blobStored) == result.layers.map { _ in true })
        let path = try store.content.path(of: digest)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
        #expect(try store.content.ingests().isEmpty)
        let fetches = try proxy.requests().filter {
            $0["method"] as? String == "GET" && ($0["path"] as? String)?.hasSuffix("/blobs/\(layer.digest)") == true
        }
        #expect(fetches.map { $0["range"] as? String } == [nil, "bytes=\(half)-"], "\(fetches)")
        #expect(fetches.last?["status"] as? Int == 206)
        #expect(fetches.last?["bytes"] as? Int == bytes.count - half)
    }

    /// A pull killed after its ingests held every byte, before it committed them, leaves whole
    /// ingests behind, of a layer and of the config. The next pull takes them as they are: it
    /// asks the registry for none of their bytes (a range from the end would get a 416), and
    /// stores both blobs.
    @Test func aWholeIngestLeftUncommittedIsTakenAsItIs() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/whole-ingest:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: [])
        let (scratch, store) = try freshStore("registry-whole-ingest")
        defer { withExtendedLifetime(scratch) {} }
        let (layer, bytes) = try fixtures.biggestLayer("multi")
        let digest = try #require(Digest(layer.digest))
        let documents = try LayoutDocuments(fixtures.path("multi"))
        let configDigest = documents.configDigest
        let configBytes = try documents.blob(configDigest)
        do {
            let killed = try Store(layout: StoreLayout(root: store.layout.root))
            let layerIngest = try killed.content.writer(ref: "layer-" + layer.digest, expected: digest, total: Int64(bytes.count))
            try layerIngest.write(Array(bytes))
            let configIngest = try killed.content.writer(ref: "pull-" + configDigest, expected: try #require(Digest(configDigest)),
                                                         total: Int64(configBytes.count))
            try configIngest.write(Array(configBytes))
        }
        #expect(try store.content.ingests().count == 2)

        let result = try await Puller(store: store).pull("\(proxy.host)/team/whole-ingest:v1", options: try options())
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        #expect(result.layers.allSatisfy { $0.blobStored })
        #expect(try Data(contentsOf: URL(fileURLWithPath: try store.content.path(of: digest))) == Data(bytes))
        #expect(store.content.contains(try #require(Digest(configDigest))))
        #expect(try store.content.ingests().isEmpty)
        let fetches = try proxy.requests().filter {
            $0["method"] as? String == "GET" && ($0["path"] as? String)?.hasSuffix("/blobs/\(layer.digest)") == true
        }
        #expect(fetches.isEmpty, "the layer's bytes were all in its ingest: \(fetches)")
    }

    @Test func discardedLayersAreUnpackedButNeverStored() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/discard:v1")
        // Cut once, so the resume too works without an ingest to fall back on.
        let proxy = try await FaultProxy(upstream: registry, faults: ["--cut-after", "100000"])
        let (scratch, store) = try freshStore("registry-discard")
        let reference = "\(proxy.host)/team/discard:v1"
        let result = try await Puller(store: store).pull(reference, options: try options(discardUnpackedLayers: true))
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        #expect(result.layersUnpacked == result.layers.count)
        try expectLayersMatchContainerd(result, fixtures, "multi", scratch: scratch)
        #expect(try proxy.requests().contains { $0["fault"] as? String == "cut" })
        // Manifest and config are stored; no layer blob was, nor is any left half-written.
        let layerDigests = Set(result.layers.map(\.digest))
        let stored = Set(try store.content.list().map(\.digest))
        #expect(stored.isSuperset(of: [result.manifest, result.config]) && stored.isDisjoint(with: layerDigests), "\(stored)")
        #expect(try store.content.ingests().isEmpty)
        #expect(result.layers.allSatisfy { !$0.blobStored })

        // The image is complete as far as running it goes: inspectable, its snapshots kept by GC.
        #expect(try ImageInspection(store: store, name: reference).layers.allSatisfy { $0.snapshot != nil })
        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.snapshots.isEmpty && report.content.isEmpty, "\(report)")

        // A later pull without the option finds every layer unpacked and fetches none of them.
        let again = try await Puller(store: store).pull(reference, options: try options())
        #expect(again.layersReused == again.layers.count)
        #expect(layerDigests.allSatisfy { !store.content.contains($0) })
        let fetched = try proxy.requests().filter { request in
            layerDigests.contains { (request["path"] as? String)?.hasSuffix("/blobs/\($0)") == true }
        }
        // Each layer once by the first pull, plus a resume for each one long enough to be cut.
        let cut = result.layers.filter { $0.size > 100_000 }.count
        #expect(cut > 0 && fetched.count == result.layers.count + cut, "\(fetched)")
    }

    @Test func aStalledTransferResumesAfterTheNoProgressTimeout() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/stall:v1")
        // After 100,000 bytes the proxy keeps the connection open and sends nothing for 60 s.
        let proxy = try await FaultProxy(upstream: registry, faults: ["--cut-after", "100000", "--cut-stall", "60"])
        let (scratch, store) = try freshStore("registry-stall")
        defer { withExtendedLifetime(scratch) {} }
        let started = ContinuousClock.now
        let result = try await Puller(store: store).pull("\(proxy.host)/team/stall:v1", options: try options(stallTimeout: .seconds(2)))
        #expect(ContinuousClock.now - started < .seconds(30), "the stall was waited out, not detected")
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        let biggest = try #require(result.layers.max { $0.size < $1.size })
        let resumed = try proxy.requests().filter { ($0["path"] as? String)?.hasSuffix("/blobs/\(biggest.digest)") == true && $0["range"] as? String != nil }
        #expect(resumed.count == 1, "\(resumed)")
        #expect(resumed.first?["status"] as? Int == 206)
    }

    /// A registry (or a proxy in front of it) that takes a blob request and never answers: the
    /// request is sent again once the no-progress timeout passes without a response head,
    /// instead of being waited on until the server hangs up (here after 120 s).
    @Test func aBlobRequestLeftWithoutAnAnswerIsSentAgain() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/silent:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: ["--hold-headers", "120"])
        let (scratch, store) = try freshStore("registry-silent")
        defer { withExtendedLifetime(scratch) {} }
        let started = ContinuousClock.now
        let result = try await Puller(store: store).pull("\(proxy.host)/team/silent:v1", options: try options(stallTimeout: .seconds(2)))
        #expect(ContinuousClock.now - started < .seconds(40), "the silent server was waited on")
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
    }

    /// A layer whose bytes trickle in keeps its extraction thread waiting on the network, where
    /// it does not see the pull's cancellation between entries: cancelling the pull ends that
    /// wait too, at once. No snapshot or image is left; what the transfers received is, as an
    /// ingest, for the next pull to resume from.
    @Test func aPullCancelledWhileTheNetworkKeepsALayerWaitingEndsAtOnce() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/trickle:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: ["--rate", "2000"])
        let (scratch, store) = try freshStore("registry-cancel")
        defer { withExtendedLifetime(scratch) {} }
        let options = try options(stallTimeout: .seconds(60))
        let pull = Task { () -> PullError? in
            do throws(PullError) {
                _ = try await Puller(store: store).pull("\(proxy.host)/team/trickle:v1", options: options)
                return nil
            } catch {
                return error
            }
        }
        // Once a layer is being extracted (its snapshot prepared), its bytes coming at 2 kB/s.
        let reading = try await eventually(within: .seconds(20)) {
            (try? store.overlay.walk(filters: []).contains { $0.kind == .active }) ?? false
        }
        #expect(reading, "no layer is being extracted")
        try await Task.sleep(for: .seconds(1))
        let cancelled = ContinuousClock.now
        pull.cancel()
        let error = await pull.value
        #expect(ContinuousClock.now - cancelled < .seconds(5), "the cancelled pull waited for the network")
        #expect(error?.code == "cancelled", "\(String(describing: error))")
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try store.images.list().isEmpty)
        let kept = try store.content.ingests()
        #expect(kept.contains { $0.offset > 0 }, "\(kept)")
    }

    /// A manifest that says a layer is 1000 bytes longer than the blob the registry holds (which
    /// registry 2.8 accepts): the body ends at the blob's real size, the request for the rest
    /// is answered 416, and the pull fails as a size mismatch naming the layer, not as a
    /// transfer error.
    @Test func aLayerShorterThanItsDescriptorIsASizeMismatch() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("bad-layer-size"), to: "team/short:v1")
        let (scratch, store) = try freshStore("registry-short")
        defer { withExtendedLifetime(scratch) {} }
        let error = try await #require(throws: PullError.self) {
            try await Puller(store: store).pull("\(registry.host)/team/short:v1", options: try options())
        }
        #expect(error.code == "digest-mismatch" && error.message.contains("size mismatch"), "\(error)")
        #expect(error.layer != nil, "\(error)")
        #expect(try store.content.ingests().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
    }

    /// A server that ignores Range answers the resume with the whole blob: the bytes the reader
    /// had are dropped as they come again, and that counts as progress. At 30 kB/s, skipping
    /// the first 90 kB takes 3 s, longer than the 2 s no-progress timeout.
    @Test func aResumeAnsweredFromTheStartIsNotTakenForAStall() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/norange:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: ["--cut-after", "90000", "--ignore-range", "--rate", "30000"])
        let (scratch, store) = try freshStore("registry-norange")
        defer { withExtendedLifetime(scratch) {} }
        let result = try await Puller(store: store).pull("\(proxy.host)/team/norange:v1", options: try options(stallTimeout: .seconds(2)))
        #expect(result.layers.map(\.chainID.description) == fixtures.image("multi").chainIDs)
        let biggest = try #require(result.layers.max { $0.size < $1.size })
        let fetches = try proxy.requests().filter { ($0["path"] as? String)?.hasSuffix("/blobs/\(biggest.digest)") == true }
        #expect(fetches.count == 2, "\(fetches)")
        #expect(fetches.last?["fault"] as? String == "ignore-range" && fetches.last?["status"] as? Int == 200, "\(fetches)")
    }

    /// One slot (`unpackConcurrency` 1) and a network of 40 kB/s: while the biggest layer (about
    /// 300 kB) trickles in, a second slot opens for the small layers. With a download limit of 1
    /// they wait for it instead.
    @Test(arguments: [3, 1])
    func aSlowNetworkLetsMoreLayersDownloadAtOnce(maxConcurrentDownloads: Int) async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/slow:v1")
        // Slow enough (about 8 s for the biggest layer) that the ticker deciding on a second slot
        // gets its turns while the rest of the suite keeps the 2 cores' shared threads busy.
        let proxy = try await FaultProxy(upstream: registry, faults: ["--rate", "40000"])
        let (scratch, store) = try freshStore("registry-slow")
        var options = try options()
        options.unpackConcurrency = 1
        options.maxConcurrentDownloads = maxConcurrentDownloads
        let events = EventLog()
        options.events = events
        let trace = PullTrace()
        options.trace = trace
        let result = try await Puller(store: store).pull("\(proxy.host)/team/slow:v1", options: options)
        try expectLayersMatchContainerd(result, fixtures, "multi", scratch: scratch)

        let biggest = try #require(result.layers.max { $0.size < $1.size })
        #expect(biggest.size > 250_000)
        let extracts = trace.document(image: result.image).spans.filter { $0.phase == "extract" }
        let big = try #require(extracts.first { $0.layer == biggest.index })
        let others = extracts.filter { $0.layer != biggest.index }
        #expect(others.count == result.layers.count - 1)
        let raised = events.all.filter { $0.type == "unpack-concurrency" }
        if maxConcurrentDownloads > 1 {
            #expect(raised.first?.detail?["limit"] == "2", "\(raised.map(\.detail))")
            #expect(raised.count <= maxConcurrentDownloads - 1)
            // A second slot opened while the biggest was still arriving, and a small layer took
            // it. (Not that every small layer was extracted by then: with the rest of the suite
            // on the 2 cores, their extraction can be held up past the biggest layer's end.)
            let slots = trace.document(image: result.image).spans.filter { $0.phase == "queued" && $0.layer != biggest.index }
            #expect(slots.contains { $0.end < big.end }, "\(slots.map { ($0.layer ?? -1, $0.end) }), biggest ended at \(big.end)")
        } else {
            #expect(raised.isEmpty)
            // Biggest first, one at a time: every other layer waited for it.
            for span in others { #expect(span.start >= big.end, "layer \(span.layer ?? -1)") }
        }
    }

    @Test(arguments: [false, true])
    func aBlobWhoseBytesDoNotMatchItsDigestCommitsNothing(discardUnpackedLayers: Bool) async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/corrupt:v1")
        let layer = try #require(fixtures.image("multi").layers.first).digest
        let proxy = try await FaultProxy(upstream: registry, faults: ["--corrupt-blob", layer])
        let (scratch, store) = try freshStore("registry-corrupt")
        defer { withExtendedLifetime(scratch) {} }
        _ = try await Puller(store: store).pull("oci:" + fixtures.path("shared-a") + ":latest")
        let before = try state(store)
        let error = await pullError {
            try await Puller(store: store).pull("\(proxy.host)/team/corrupt:v1",
                                                options: try options(discardUnpackedLayers: discardUnpackedLayers))
        }
        let failure = try #require(error)
        #expect(failure.layer == layer)
        #expect(failure.code == "digest-mismatch", "\(failure)")
        #expect(failure.description.contains(layer))
        #expect(failure.description.contains("\(proxy.host)/team/corrupt:v1"))
        #expect(try state(store) == before)
    }

    /// The smallest layer is corrupt while the others still trickle in (2 kB/s): the pull fails
    /// on it, and what the other layers had received is not kept either, as a failed pull leaves
    /// the store as it was (only a cancelled one keeps its downloads, for the next pull).
    @Test func aPullThatFailsKeepsNoneOfItsOtherDownloads() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("multi"), to: "team/partly:v1")
        let layout = URL(fileURLWithPath: fixtures.path("multi"))
        let index = try JSONDecoder().decode(ImageIndex.self, from: Data(contentsOf: layout.appendingPathComponent("index.json")))
        let manifestDigest = try #require(index.manifests.first).digest.encoded
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: Data(contentsOf: layout.appendingPathComponent("blobs/sha256/" + manifestDigest)))
        let smallest = try #require(manifest.layers.min { $0.size < $1.size })
        #expect(manifest.layers.contains { $0.size > 50 * smallest.size }, "no layer is still downloading when the smallest fails")
        let proxy = try await FaultProxy(upstream: registry, faults: ["--corrupt-blob", smallest.digest.description, "--rate", "2000"])
        let (scratch, store) = try freshStore("registry-partly")
        defer { withExtendedLifetime(scratch) {} }
        let error = await pullError {
            try await Puller(store: store).pull("\(proxy.host)/team/partly:v1", options: try options())
        }
        #expect(error?.layer == smallest.digest.description, "\(String(describing: error))")
        #expect(try state(store) == [])
    }

    /// A store that runs out of space while a registry pull streams a layer into it: ENOSPC
    /// naming the image and the layer, and the store exactly as it was (no blob, no ingest to
    /// resume, no snapshot).
    @Test func aFullFileSystemLeavesTheStoreAsItWas() async throws {
        // 24 MiB of incompressible data: the blob and the extracted file together need 48 MiB.
        let setup = try await SmallStoreSetup("registry-disk-full", imageMegabytes: 24)
        defer { setup.volume.unmount() }
        let store = setup.store
        let before = try state(store)

        let error = await pullError {
            try await Puller(store: store).pull(setup.reference, options: try options())
        }
        let failure = try #require(error)
        #expect(failure.description.contains("No space left on device"), "\(failure)")
        #expect(failure.description.contains(setup.reference), "\(failure)")
        #expect(failure.layer != nil, "\(failure)")
        #expect(try state(store) == before)
    }

    /// The registry pull's variant of `PullTests.aDiskThatFillsUpBeforeTheCommitLeavesTheStoreAsItWas`:
    /// the blob is in an ingest, verified, when the disk fills up; the pull fails naming the
    /// layer, and neither the ingest nor anything else is left.
    @Test func aDiskThatFillsUpBeforeTheCommitLeavesNoIngest() async throws {
        let setup = try await SmallStoreSetup("registry-disk-full-commit", imageMegabytes: 1)
        defer { setup.volume.unmount() }
        let store = setup.store
        let before = try state(store)

        let filler = DiskFiller(on: setup.volume.mountPoint)
        var options = try options()
        options.events = filler
        let error = await pullError {
            try await Puller(store: store).pull(setup.reference, options: options)
        }
        let failure = try #require(error)
        #expect(filler.filled)
        #expect(failure.description.contains("disk is full") || failure.description.contains("No space left on device"), "\(failure)")
        #expect(failure.layer != nil, "\(failure)")
        #expect(try state(store) == before)
    }

    @Test func busyRegistriesAreRetried() async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("plain")
        try await registry.push(layout: fixtures.path("shared-a"), to: "team/busy:v1")
        let unavailable = try await FaultProxy(upstream: registry, faults: ["--status", "503", "--status-count", "2", "--status-path-regex", "/blobs/"])
        let (scratch, store) = try freshStore("registry-busy")
        defer { withExtendedLifetime(scratch) {} }
        _ = try await Puller(store: store).pull("\(unavailable.host)/team/busy:v1", options: try options())
        #expect(try unavailable.requests().filter { $0["status"] as? Int == 503 }.count == 2)

        let limited = try await FaultProxy(upstream: registry, faults: ["--status", "429", "--status-count", "1", "--status-path-regex", "/manifests/"])
        let (otherScratch, other) = try freshStore("registry-429")
        defer { withExtendedLifetime(otherScratch) {} }
        _ = try await Puller(store: other).pull("\(limited.host)/team/busy:v1", options: try options())
        #expect(try limited.requests().filter { $0["status"] as? Int == 429 }.count == 1)

        // A registry that keeps failing: a clear error after the retries, nothing left behind.
        let down = try await FaultProxy(upstream: registry, faults: ["--status", "503", "--status-count", "100", "--status-path-regex", "/manifests/"])
        let (downScratch, downStore) = try freshStore("registry-down")
        defer { withExtendedLifetime(downScratch) {} }
        let error = await pullError { try await Puller(store: downStore).pull("\(down.host)/team/busy:v1", options: try options()) }
        #expect(error?.code == "unavailable")
        #expect(error?.message.contains("503") == true, "\(error?.message ?? "")")
        #expect(try state(downStore).isEmpty)
    }

    /// With two hops, the second one is from the storage host to itself: the registry's
    /// credentials must not go there either.
    @Test(arguments: [1, 2]) func credentialsDoNotFollowARedirectToAnotherHost(hops: Int) async throws {
        let fixtures = try await ImageFixtures.get()
        let registry = try await RegistryServer("token")
        try await registry.push(layout: fixtures.path("shared-b"), to: "team/redirected:v1")
        // Blobs answered with 307 to 127.0.0.2, which refuses (400) any request that carries an
        // Authorization header, as object storage does.
        let proxy = try await FaultProxy(upstream: registry, faults: ["--redirect-blobs", "--redirect-reject-auth",
                                                                      "--redirect-hops", String(hops)])
        let (scratch, store) = try freshStore("registry-redirect")
        defer { withExtendedLifetime(scratch) {} }
        let result = try await Puller(store: store).pull("\(proxy.host)/team/redirected:v1", options: try options(user: "decant:decant-secret"))
        #expect(result.layers.map(\.chainID.description) == fixtures.image("shared-b").chainIDs)
        let requests = try proxy.requests()
        let redirected = requests.filter { $0["listener"] as? String == "redirect" }
        #expect(!redirected.isEmpty)
        #expect(redirected.allSatisfy { $0["authorization"] as? Bool == false }, "\(redirected)")
        #expect(redirected.allSatisfy { $0["status"] as? Int == ($0["fault"] as? String == "redirect" ? 307 : 200) }, "\(redirected)")
        #expect(redirected.contains { $0["fault"] as? String == "redirect" } == (hops > 1))
        #expect(requests.contains { $0["listener"] as? String == "main" && $0["fault"] as? String == "redirect" && $0["authorization"] as? Bool == true })
    }

    /// The command line: a pull killed in the middle of a layer (SIGKILL) leaves its ingest; the
    /// next pull reads those bytes back and asks the registry only for the rest. Also the exit
    /// status and message of a 401, and `--trace`.
    @Test func aKilledPullResumesFromItsIngest() async throws {
        let registry = try await RegistryServer("plain")
        let scratch = try Scratch("registry-cli")
        let layout = scratch.url.appendingPathComponent("big").path
        let made = try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "6"])
        let big = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
        let layer = try #require(big["layer"] as? String)
        try await registry.push(layout: layout, to: "team/big:v1")
        let proxy = try await FaultProxy(upstream: registry, faults: [])
        let root = scratch.url.appendingPathComponent("root").path
        func decant(_ arguments: [String], failpoint: String? = nil) async throws -> Shell.Output {
            var environment = ["DOCKER_CONFIG": "/nonexistent"]
            if let failpoint { environment["DECANT_FAILPOINT"] = failpoint }
            return try await Repository.runDecant(arguments, root: root, environment: environment)
        }
        let reference = "\(proxy.host)/team/big:v1"
        let killed = try await decant(["pull", "--hosts-dir", "/nonexistent", reference], failpoint: "content-mid-ingest")
        #expect(killed.status != 0)
        let store = try Store(layout: StoreLayout(root: root))
        let ingest = try #require(try store.content.ingests().first { $0.ref == "layer-" + layer })
        #expect(ingest.offset >= 1 << 20)

        let trace = scratch.url.appendingPathComponent("trace.json").path
        let resumed = try await decant(["pull", "--hosts-dir", "/nonexistent", "--trace", trace, reference])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let requests = try proxy.requests().filter { ($0["path"] as? String)?.hasSuffix("/blobs/\(layer)") == true }
        #expect(requests.last?["range"] as? String == "bytes=\(ingest.offset)-", "\(requests)")
        #expect(requests.last?["status"] as? Int == 206)
        let digest = try #require(Digest(layer))
        #expect(FileManager.default.contentsEqual(atPath: try store.content.path(of: digest), andPath: "\(layout)/blobs/sha256/\(digest.encoded)"),
                "the stored blob is the pushed one, byte for byte")
        #expect(try store.content.ingests().isEmpty)
        let merged = try #require(try store.images.list().first)
        #expect(merged.name == reference)
        let data = try Data(contentsOf: URL(fileURLWithPath: trace))
        let timeline = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(timeline["ok"] as? Bool == true)
        let phases = Set((timeline["spans"] as? [[String: Any]] ?? []).compactMap { $0["phase"] as? String })
        #expect(phases.isSuperset(of: ["resolve", "queued", "extract", "store", "sync", "commit", "record"]), "\(phases)")
        let stages = ((timeline["layers"] as? [[String: Any]])?.first?["stages"] as? [String: Double]) ?? [:]
        #expect((stages["inflate"] ?? 0) > 0 && (stages["hash"] ?? 0) > 0 && (stages["write"] ?? 0) > 0, "\(stages)")

        // Without a tag the image is NAME:latest, and the image commands take the short form.
        try await registry.push(layout: layout, to: "team/big:latest")
        let untagged = try await decant(["pull", "--hosts-dir", "/nonexistent", "\(proxy.host)/team/big"])
        #expect(untagged.status == 0, "\(untagged.stderr)")
        let inspected = try await decant(["images", "inspect", "\(proxy.host)/team/big"])
        #expect(inspected.status == 0 && inspected.stdout.contains("name      \(proxy.host)/team/big:latest"), "\(inspected.stdout)\(inspected.stderr)")

        let denied = try await RegistryServer("basic-tls")
        let refused = try await decant(["pull", "--hosts-dir", "/nonexistent", "--ca-file", try #require(denied.info.ca), "\(denied.host)/team/none:v1"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pull \(denied.host)/team/none:v1: ") && refused.stderr.contains("401 Unauthorized"), "\(refused.stderr)")
    }
}

/// For the disk-full tests: a registry holding a one-layer image of incompressible data, and a
/// store on a 40 MiB volume that already holds a small image.
struct SmallStoreSetup {
    let scratch: Scratch
    let registry: RegistryServer
    let volume: SmallVolume
    let store: Store
    /// The image in the registry.
    let reference: String

    init(_ label: String, imageMegabytes: Int) async throws {
        let fixtures = try await ImageFixtures.get()
        scratch = try Scratch(label)
        let layout = scratch.url.appendingPathComponent("image").path
        try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, String(imageMegabytes)])
        registry = try await RegistryServer("plain")
        try await registry.push(layout: layout, to: "team/image:v1")
        reference = "\(registry.host)/team/image:v1"
        volume = try SmallVolume(in: scratch, megabytes: 40)
        store = try Store(layout: StoreLayout(root: volume.mountPoint.appendingPathComponent("root").path))
        _ = try await Puller(store: store).pull("oci:" + fixtures.path("shared-a") + ":latest")
    }
}
