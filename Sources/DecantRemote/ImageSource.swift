import DecantIO
import DecantOCI
import Foundation

/// Somewhere images are read from: a registry, an OCI layout, an OCI archive, a `docker save`
/// archive.
public protocol ImageSource: Sendable {
    /// The reference as the user wrote it, which the image is recorded under.
    var reference: String { get }
    /// The descriptor of the image's manifest or index.
    func resolve() throws(RemoteError) -> Descriptor
    /// A small blob (manifest, index, config), verified against the descriptor's digest and size.
    func fetch(_ descriptor: Descriptor) throws(RemoteError) -> Data
    /// A blob as a stream (a layer); the reader verifies digest and size as it hashes.
    func open(_ descriptor: Descriptor) throws(RemoteError) -> any ByteSource
}

/// Parses `oci:PATH[:TAG|@DIGEST]`, `oci-archive:FILE[:TAG|@DIGEST]` and
/// `docker-archive:FILE[:REF]` into a source.
public enum ImageSources {
    public static func open(_ reference: String) throws(RemoteError) -> any ImageSource {
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
        throw RemoteError(.invalidReference,
                          "\(reference.debugDescription) is not an image reference Decant reads: use oci:PATH[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST] or docker-archive:FILE[:REF]")
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
