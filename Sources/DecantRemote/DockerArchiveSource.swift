import DecantIO
import DecantOCI
import Foundation

/// What `docker save` writes: `manifest.json` naming a config and layer tars per image. Decant
/// presents it as a Docker schema 2 manifest it synthesizes (as containerd's import does), whose
/// layers are the archive's members.
struct DockerArchiveSource: ImageSource {
    let reference: String
    let files: any LayoutFiles
    private let manifest: Data
    private let manifestDescriptor: Descriptor
    private let layerPaths: [Digest: String]
    private let configPath: String

    private struct Entry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    init(reference: String, files: any LayoutFiles, name: String?) throws(RemoteError) {
        self.reference = reference
        self.files = files
        let entries: [Entry]
        do {
            entries = try JSONDecoder().decode([Entry].self, from: try files.read("manifest.json"))
        } catch let error as RemoteError {
            throw error
        } catch {
            throw RemoteError(.unsupported, "\(files.location): manifest.json is not a docker save manifest: \(error)")
        }
        let entry: Entry
        if let name {
            guard let found = entries.first(where: { ($0.RepoTags ?? []).contains(name) }) else {
                throw RemoteError(.notFound, "\(files.location): no image \(name.debugDescription) (has: \(entries.flatMap { $0.RepoTags ?? [] }.joined(separator: ", ")))")
            }
            entry = found
        } else {
            guard entries.count == 1 else {
                throw RemoteError(.invalidReference, "\(files.location) holds \(entries.count) images: name one as docker-archive:FILE:REPO:TAG")
            }
            entry = entries[0]
        }
        configPath = entry.Config
        let configData = try files.read(entry.Config)
        let config: ImageConfig
        do {
            config = try JSONDecoder().decode(ImageConfig.self, from: configData)
        } catch {
            throw RemoteError(.unsupported, "\(files.location): \(entry.Config) is not an image config: \(error)")
        }
        guard config.rootfs.diffIDs.count == entry.Layers.count else {
            throw RemoteError(.unsupported, "\(files.location): \(entry.Layers.count) layers but \(config.rootfs.diffIDs.count) diff_ids")
        }
        var layers: [Descriptor] = []
        var paths: [Digest: String] = [:]
        for (path, diffID) in zip(entry.Layers, config.rootfs.diffIDs) {
            guard let size = files.size(path) else { throw RemoteError(.notFound, "\(files.location): layer \(path) not found") }
            let head = try Self.head(files, path)
            let compression = Compression.detect(magic: head)
            // An uncompressed layer's digest is its diff_id (checked as it is applied); a
            // compressed one is hashed here, once.
            let digest = compression == .none ? diffID : try Self.hash(files, path)
            let mediaType: MediaType = switch compression {
            case .none: .dockerLayer
            case .gzip: .dockerLayerGzip
            case .zstd: .ociLayerZstd
            }
            layers.append(Descriptor(mediaType: mediaType, digest: digest, size: size))
            paths[digest] = path
        }
        layerPaths = paths
        let configDescriptor = Descriptor(mediaType: .dockerConfig, digest: Digest.sha256(of: configData), size: Int64(configData.count))
        let synthesized = ImageManifest(schemaVersion: 2, mediaType: .dockerManifest, config: configDescriptor, layers: layers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        manifest = (try? encoder.encode(synthesized)) ?? Data()
        manifestDescriptor = Descriptor(mediaType: .dockerManifest, digest: Digest.sha256(of: manifest), size: Int64(manifest.count))
    }

    func resolve() -> Descriptor { manifestDescriptor }

    func fetch(_ descriptor: Descriptor) throws(RemoteError) -> Data {
        if descriptor.digest == manifestDescriptor.digest { return manifest }
        return try verify(try files.read(path(of: descriptor.digest)), descriptor, in: files.location)
    }

    func open(_ descriptor: Descriptor, offset: Int64) throws(RemoteError) -> any ByteSource {
        try files.open(try path(of: descriptor.digest), offset: offset)
    }

    private func path(of digest: Digest) throws(RemoteError) -> String {
        if let path = layerPaths[digest] { return path }
        if Digest.sha256(of: (try? files.read(configPath)) ?? Data()) == digest { return configPath }
        throw RemoteError(.notFound, "\(files.location): blob \(digest) not found")
    }

    private static func head(_ files: any LayoutFiles, _ path: String) throws(RemoteError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4)
        let source = try files.open(path, offset: 0)
        let count = (try? bytes.withUnsafeMutableBytes { try source.read(into: $0) }) ?? 0
        return Array(bytes.prefix(count))
    }

    private static func hash(_ files: any LayoutFiles, _ path: String) throws(RemoteError) -> Digest {
        let source = try files.open(path, offset: 0)
        var hasher = DigestHasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let count: Int
            do {
                count = try source.read(into: buffer)
            } catch {
                throw RemoteError(.io, "\(files.location): cannot read \(path): \(error)")
            }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        return hasher.finalize()
    }
}
