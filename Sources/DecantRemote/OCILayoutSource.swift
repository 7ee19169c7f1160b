import DecantIO
import DecantOCI
import Foundation

/// An OCI image layout, in a directory (`oci:`) or a tar of one (`oci-archive:`).
struct OCILayoutSource: ImageSource {
    let reference: String
    let files: any LayoutFiles
    let selector: LayoutSelector

    func resolve() throws(RemoteError) -> Descriptor {
        let data = try files.read("index.json")
        let index: ImageIndex
        do {
            index = try JSONDecoder().decode(ImageIndex.self, from: data)
        } catch {
            throw RemoteError(.unsupported, "\(files.location): index.json is not an OCI index: \(error)")
        }
        let refName = "org.opencontainers.image.ref.name"
        switch selector {
        case .digest(let digest):
            if let found = index.manifests.first(where: { $0.digest == digest }) { return found }
            throw RemoteError(.notFound, "\(files.location): no manifest \(digest) in index.json")
        case .tag(let tag):
            if let found = index.manifests.first(where: { $0.annotations?[refName] == tag }) { return found }
            let tags = index.manifests.compactMap { $0.annotations?[refName] }
            throw RemoteError(.notFound, "\(files.location): no image tagged \(tag.debugDescription) (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
        case .only:
            if index.manifests.count == 1 { return index.manifests[0] }
            if let latest = index.manifests.first(where: { $0.annotations?[refName] == "latest" }) { return latest }
            let tags = index.manifests.compactMap { $0.annotations?[refName] }
            throw RemoteError(.invalidReference, "\(files.location) holds \(index.manifests.count) images: name one with :TAG or @DIGEST (tags: \(tags.joined(separator: ", ")))")
        }
    }

    func fetch(_ descriptor: Descriptor) throws(RemoteError) -> Data {
        try verify(try files.read(blobPath(descriptor.digest)), descriptor, in: files.location)
    }

    func open(_ descriptor: Descriptor, offset: Int64) throws(RemoteError) -> any ByteSource {
        let path = blobPath(descriptor.digest)
        guard let size = files.size(path) else {
            throw RemoteError(.notFound, "\(files.location): blob \(descriptor.digest) not found")
        }
        guard size == descriptor.size else {
            throw RemoteError(.digestMismatch, "\(files.location): blob \(descriptor.digest) has \(size) bytes, its descriptor says \(descriptor.size) (size mismatch)")
        }
        return try files.open(path, offset: offset)
    }

    private func blobPath(_ digest: Digest) -> String {
        "blobs/\(digest.algorithm)/\(digest.encoded)"
    }
}
