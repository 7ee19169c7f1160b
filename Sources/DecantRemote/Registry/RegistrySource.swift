import AsyncHTTPClient
import DecantIO
import DecantOCI
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// An image in a registry (the distribution API v2): resolved with HEAD then GET on its
/// manifest, blobs streamed as they arrive.
public final class RegistrySource: ImageSource {
    public let image: ImageReference
    public var reference: String { image.description }
    public var isRemote: Bool { true }
    let client: RegistryClient
    /// Manifests read while resolving (a registry that answers HEAD without a digest), so that
    /// they are not fetched twice.
    private let fetched = Mutex<[Digest: Data]>([:])

    /// The media types Decant reads, in the Accept header of manifest requests.
    static let manifestTypes = [
        MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
    ].map(\.rawValue)

    public init(image: ImageReference, options: RegistryOptions, logger: Logger) throws(RemoteError) {
        self.image = image
        self.client = try RegistryClient(image: image, options: options, logger: logger)
    }

    public func close() async {
        await client.shutdown()
    }

    public func resolve() async throws(RemoteError) -> Descriptor {
        try await remoteErrors { () async throws -> Descriptor in try await self.resolveManifest() }
    }

    public func fetch(_ descriptor: Descriptor) async throws(RemoteError) -> Data {
        try await remoteErrors { () async throws -> Data in try await self.fetchBlob(descriptor) }
    }

    public func open(_ descriptor: Descriptor, offset: Int64) async throws(RemoteError) -> any ByteSource {
        RegistryBlobReader(client: client, descriptor: descriptor, offset: offset)
    }

    private func resolveManifest() async throws -> Descriptor {
        let path = "/\(image.repository)/manifests/\(image.manifestReference)"
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: Self.manifestTypes.joined(separator: ", "))
        let what = "manifest \(image.manifestReference)"
        let capability: RegistryEndpoint.Capability = image.digest == nil ? .resolve : .pull
        // A registry that takes the request and never answers is asked again after the stall
        // timeout, as a blob transfer is.
        let head = try await client.send(.HEAD, path, capability: capability, headers: headers,
                                         headTimeout: client.options.stallTimeout, what: what)
        let response = head.response
        if let digestText = response.headers.first(name: "Docker-Content-Digest"), let digest = Digest(digestText),
           let type = response.headers.first(name: "Content-Type"),
           let lengthText = response.headers.first(name: "Content-Length"), let size = Int64(lengthText), size >= 0 {
            if let pinned = image.digest, pinned != digest {
                throw RemoteError(.digestMismatch, "\(head.endpoint.host) answered \(what) with digest \(digest) (digest mismatch)")
            }
            return Descriptor(mediaType: MediaType(rawValue: Self.stripParameters(type)), digest: digest, size: size)
        }
        // No digest in the HEAD answer: GET the manifest and hash it.
        let get = try await client.send(.GET, path, capability: capability, headers: headers,
                                        headTimeout: client.options.stallTimeout, what: what)
        let data = try await Self.collect(get, limit: Self.manifestLimit, what: what)
        let digest = Digest.sha256(of: data)
        if let pinned = image.digest, pinned != digest {
            throw RemoteError(.digestMismatch, "\(get.endpoint.host) answered \(what) with bytes whose digest is \(digest) (digest mismatch)")
        }
        fetched.withLock { $0[digest] = data }
        let type = get.response.headers.first(name: "Content-Type").map(Self.stripParameters) ?? Self.sniffMediaType(data)
        return Descriptor(mediaType: MediaType(rawValue: type), digest: digest, size: Int64(data.count))
    }

    private func fetchBlob(_ descriptor: Descriptor) async throws -> Data {
        if let data = fetched.withLock({ $0.removeValue(forKey: descriptor.digest) }) {
            return try verify(data, descriptor, in: image.domain)
        }
        let isManifest = Self.manifestTypes.contains(descriptor.mediaType.rawValue) || descriptor.mediaType.isSchema1
        let kind = isManifest ? "manifests" : "blobs"
        var headers = HTTPHeaders()
        if isManifest { headers.add(name: "Accept", value: Self.manifestTypes.joined(separator: ", ")) }
        guard descriptor.size >= 0 else {
            throw RemoteError(.digestMismatch, "\(descriptor.digest) has a negative size (\(descriptor.size))")
        }
        guard descriptor.size <= Self.manifestLimit else {
            throw RemoteError(.unsupported, "\(descriptor.digest) is \(descriptor.size) bytes: too big for a manifest or config")
        }
        let what = "\(isManifest ? "manifest" : "blob") \(descriptor.digest)"
        let response = try await client.send(.GET, "/\(image.repository)/\(kind)/\(descriptor.digest)", capability: .pull,
                                             headers: headers, headTimeout: client.options.stallTimeout, what: what)
        return try verify(try await Self.collect(response, limit: descriptor.size + 1, what: what), descriptor, in: response.endpoint.host)
    }

    /// Manifests and configs above this size are refused (containerd's limit for manifests).
    static let manifestLimit: Int64 = 4 << 20

    private static func collect(_ response: RegistryResponse, limit: Int64, what: String) async throws -> Data {
        do {
            return Data(try await response.response.body.collect(upTo: Int(limit)).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw RemoteError(.digestMismatch, "\(what) from \(response.endpoint.host) is larger than \(limit) bytes")
        }
    }

    private static func stripParameters(_ contentType: String) -> String {
        String(contentType.split(separator: ";").first ?? "").trimmingWhitespace()
    }

    /// For registries that send no Content-Type: the document's own `mediaType`.
    private static func sniffMediaType(_ data: Data) -> String {
        struct Typed: Decodable { var mediaType: String? }
        return (try? JSONDecoder().decode(Typed.self, from: data))?.mediaType ?? MediaType.ociManifest.rawValue
    }

    /// Runs `body`, turning whatever it throws into a ``RemoteError``.
    private func remoteErrors<T>(_ body: () async throws -> T) async throws(RemoteError) -> T {
        do {
            return try await body()
        } catch let error as RemoteError {
            throw error
        } catch {
            throw RemoteError(.io, "\(image): \(RegistryClient.describe(error))")
        }
    }
}
