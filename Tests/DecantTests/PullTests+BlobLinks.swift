import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension PullTests {
    private func inode(_ path: String) throws -> (device: UInt64, inode: UInt64, links: UInt64) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return (UInt64(status.st_dev), UInt64(status.st_ino), UInt64(status.st_nlink))
    }

    /// Every one of `layers` is in `store` with the bytes of its file in `layout`, and is that very
    /// file (a hard link) unless it is `copied`.
    private func expectBlobs(_ layers: [Digest], of layout: String, in store: Store, linkedExcept copied: Digest) throws {
        for digest in layers {
            let blob = "\(layout)/blobs/sha256/\(digest.encoded)"
            let stored = try store.content.path(of: digest)
            let linked = try inode(stored).inode == inode(blob).inode
            #expect(linked == (digest != copied), "\(digest): linked \(linked)")
            #expect(FileManager.default.contentsEqual(atPath: stored, andPath: blob))
        }
    }

    /// A layer blob of an OCI layout on the store's filesystem becomes a hard link in the content
    /// store (no second copy written), unless others could rewrite it or the pull asks for copies;
    /// either way the store's blob holds the verified bytes.
    @Test func localLayoutBlobsAreLinkedWhereSafe() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("link")
        // A private copy of the layout, one of whose layer blobs anyone may write.
        let layout = scratch.url.appendingPathComponent("layout").path
        try await Shell.check(["cp", "-a", fixtures.path("multi"), layout])
        let result = try await Puller(store: store).pull("oci:\(layout):latest")
        let layers = result.layers.map(\.digest)
        #expect(layers.count >= 3)
        let writable = layers[1]
        for (index, digest) in layers.enumerated() {
            let blob = "\(layout)/blobs/sha256/\(digest.encoded)"
            let stored = try store.content.path(of: digest)
            #expect(try inode(stored).inode == inode(blob).inode, "layer \(index) was copied, not linked")
            #expect(try inode(stored).links == 2)
        }

        let (otherScratch, other) = try freshStore("link-guarded")
        defer { withExtendedLifetime(otherScratch) {} }
        #expect(chmod("\(layout)/blobs/sha256/\(writable.encoded)", 0o666) == 0)
        _ = try await Puller(store: other).pull("oci:\(layout):latest")
        try expectBlobs(layers, of: layout, in: other, linkedExcept: writable)

        let (copyScratch, copies) = try freshStore("link-off")
        defer { withExtendedLifetime(copyScratch) {} }
        _ = try await Puller(store: copies).pull("oci:\(layout):latest", options: PullOptions(linkLocalBlobs: false))
        for digest in layers {
            let blob = "\(layout)/blobs/sha256/\(digest.encoded)"
            let stored = try copies.content.path(of: digest)
            #expect(try inode(stored).inode != inode(blob).inode)
            #expect(FileManager.default.contentsEqual(atPath: stored, andPath: blob))
        }
    }

    /// A blob of several direct-I/O chunks, copied into the store rather than linked, is stored
    /// byte for byte: the decoder reads it from where the ingest stages it for the disk.
    @Test func aCopiedBigBlobIsStoredByteForByte() async throws {
        let (scratch, store) = try freshStore("copy-big")
        let layout = scratch.url.appendingPathComponent("big").path
        let made = try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "6"])
        let big = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
        let name = try #require(big["layer"] as? String)
        let layer = try #require(Digest(name))
        let result = try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions(linkLocalBlobs: false))
        #expect(result.layers.map(\.digest) == [layer])
        let blob = "\(layout)/blobs/sha256/\(layer.encoded)"
        let stored = try store.content.path(of: layer)
        #expect(try inode(stored).inode != inode(blob).inode)
        #expect(FileManager.default.contentsEqual(atPath: stored, andPath: blob))
    }

    /// A blob that became writable by others after it was checked and read (here: when its layer
    /// is extracted, before the blob is stored) is copied into the store instead of linked, and
    /// the pull still records every blob with its verified bytes.
    @Test func aBlobThatChangesModeBeforeItIsStoredIsCopied() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("link-fallback")
        let layout = scratch.url.appendingPathComponent("layout").path
        try await Shell.check(["cp", "-a", fixtures.path("multi"), layout])
        let layers = fixtures.image("multi").layers.compactMap { Digest($0.digest) }
        #expect(layers.count >= 3)
        let changed = layers[1]
        let changedBlob = "\(layout)/blobs/sha256/\(changed.encoded)"
        let sink = ModeChangingSink(layer: changed.description, path: changedBlob)
        _ = try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions(events: sink))
        #expect(sink.changed.withLock { $0 }, "the layer-extracted event of \(changed) never came")
        try expectBlobs(layers, of: layout, in: store, linkedExcept: changed)
        for digest in layers {
            #expect(try store.content.info(digest).labels["containerd.io/uncompressed"] != nil)
        }
        #expect(try inode(changedBlob).links == 1)
    }
}

/// Makes one layout blob writable by everyone once its layer is extracted: between the check
/// made when the blob was opened and the link made when it is stored.
private final class ModeChangingSink: EventSink {
    let layer: String
    let path: String
    let changed = Mutex(false)

    init(layer: String, path: String) {
        self.layer = layer
        self.path = path
    }

    func emit(_ event: Event) {
        guard event.type == "layer-extracted", event.layer == layer else { return }
        changed.withLock { $0 = chmod(path, 0o666) == 0 }
    }
}
