import DecantIO
import DecantOCI
import Foundation
import Logging

/// Somewhere images are read from: a registry, an OCI layout, an OCI archive, a `docker save`
/// archive.
public protocol ImageSource: Sendable {
    /// The reference the image is recorded under: as the user wrote it for local sources, the
    /// normalized name (`docker.io/library/alpine:latest`) for registries.
    var reference: String { get }
    /// Whether blobs come over the network, so that more of them are worth reading at once than
    /// there are cores.
    var isRemote: Bool { get }
    /// The descriptor of the image's manifest or index.
    func resolve() async throws(RemoteError) -> Descriptor
    /// A small blob (manifest, index, config), verified against the descriptor's digest and size.
    func fetch(_ descriptor: Descriptor) async throws(RemoteError) -> Data
    /// A blob as a stream (a layer) from byte `offset` on; the reader verifies digest and size as
    /// it hashes.
    func open(_ descriptor: Descriptor, offset: Int64) async throws(RemoteError) -> any ByteSource
    /// Releases connections; the source is not used afterwards.
    func close() async
}

extension ImageSource {
    public var isRemote: Bool { false }
    public func close() async {}
}

/// A blob stream that can say why it failed in more words than an errno.
public protocol BlobStream: ByteSource, AnyObject {
    var failure: RemoteError? { get }
    /// Stops the transfer: its reader, even one blocked waiting for bytes, gets none more and
    /// fails at once. For a pull that stops while the network keeps a layer waiting.
    func cancel()
    /// How long its reader has spent, in total, waiting for bytes that had not arrived yet: a
    /// transfer that keeps its reader waiting is limited by the network, not by this machine.
    var readerWaiting: Duration { get }
}

/// Parses `oci:PATH[:TAG|@DIGEST]`, `oci-archive:FILE[:TAG|@DIGEST]`,
/// `docker-archive:FILE[:REF]` and registry references (`[HOST/]NAME[:TAG][@DIGEST]`) into a
/// source.
public enum ImageSources {
    public static func open(_ reference: String, registry: RegistryOptions = RegistryOptions(),
                            logger: Logger = Logger(label: "decant.registry")) throws(RemoteError) -> any ImageSource {
        if let rest = reference.dropPrefix("oci:") {
            let (path, selector) = try splitSelector(rest)
            return OCILayoutSource(reference: reference, files: try DirectoryFiles(root: path), selector: selector)
        }
        if let rest = reference.dropPrefix("oci-archive:") {
            let (path, selector) = try splitSelector(rest)
            return OCILayoutSource(reference: reference, files: try TarFiles(archive: path), selector: selector)
        }
        if let rest = reference.dropPrefix("docker-archive:") {
            let (path, name) = splitDockerReference(rest)
            return try DockerArchiveSource(reference: reference, files: try TarFiles(archive: path), name: name)
        }
        if let scheme = reference.range(of: "://") ?? reference.range(of: ":/") , reference[..<scheme.lowerBound].allSatisfy(\.isLetter) {
            throw RemoteError(.invalidReference,
                              "\(reference.debugDescription) is not an image reference Decant reads: use [HOST/]NAME[:TAG][@DIGEST], oci:PATH[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST] or docker-archive:FILE[:REF]")
        }
        return try RegistrySource(image: try ImageReference(parsing: reference), options: registry, logger: logger)
    }

    /// `PATH:TAG` or `PATH@sha256:…`; a colon inside the path (before its last `/`) is the path's.
    static func splitSelector(_ text: String) throws(RemoteError) -> (String, LayoutSelector) {
        if let at = text.range(of: "@sha256:") {
            let digestText = String(text[text.index(after: at.lowerBound)...])
            guard let digest = Digest(digestText) else {
                throw RemoteError(.invalidReference, "\(digestText.debugDescription) is not a sha256 digest")
            }
            return (String(text[..<at.lowerBound]), .digest(digest))
        }
        if let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
            return (String(text[..<colon]), .tag(String(text[text.index(after: colon)...])))
        }
        return (text, .only)
    }

    static func splitDockerReference(_ text: String) -> (String, String?) {
        // FILE:REPO:TAG — the file ends at the first colon after which the rest names an image.
        if let range = text.range(of: ".tar:") {
            return (String(text[..<text.index(range.lowerBound, offsetBy: 4)]), String(text[range.upperBound...]))
        }
        return (text, nil)
    }
}

/// Which manifest of an OCI layout's `index.json` to take.
public enum LayoutSelector: Sendable, Equatable {
    /// The only one there is.
    case only
    /// The one annotated `org.opencontainers.image.ref.name=TAG`.
    case tag(String)
    case digest(Digest)
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}

/// Verifies a fetched blob against its descriptor.
func verify(_ data: Data, _ descriptor: Descriptor, in source: String) throws(RemoteError) -> Data {
    guard Int64(data.count) == descriptor.size else {
        throw RemoteError(.digestMismatch, "\(source): blob \(descriptor.digest) has \(data.count) bytes, its descriptor says \(descriptor.size) (size mismatch)")
    }
    let actual = Digest.sha256(of: data)
    guard actual == descriptor.digest else {
        throw RemoteError(.digestMismatch, "\(source): blob \(descriptor.digest) has digest \(actual) (digest mismatch)")
    }
    return data
}
