import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// A store on a file system that fills up during the pull (a node out of disk): the pull
    /// fails with ENOSPC naming the image and the layer, nothing is committed or left active,
    /// and the store takes the next pull.
    @Test func aFullFileSystemFailsThePullCleanly() async throws {
        let scratch = try Scratch("disk-full")
        let layout = scratch.url.appendingPathComponent("big").path
        // 24 MiB of incompressible data: the blob and the extracted file together need 48 MiB.
        try Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "24"])
        let volume = try SmallVolume(in: scratch, megabytes: 40)
        defer { volume.unmount() }
        let store = try Store(layout: StoreLayout(root: volume.mountPoint.appendingPathComponent("root").path))

        let error = try await #require(throws: PullError.self) {
            try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions())
        }
        #expect(error.description.contains("No space left on device") || error.description.contains("ENOSPC"), "\(error)")
        #expect(error.image.contains(layout), "\(error)")
        #expect(error.layer != nil, "\(error)")
        let snapshots = try store.overlay.walk(filters: [])
        #expect(snapshots.isEmpty, "snapshots left: \(snapshots.map(\.name))")
        #expect(try store.images.list().isEmpty)

        // Not wedged: what the failed pull prepared is gone, and a small image fits.
        let fixtures = try ImageFixtures.get()
        let small = try await Puller(store: store).pull("oci:" + fixtures.path(fixtures.image("multi").layout) + ":latest",
                                                        options: PullOptions())
        #expect(!small.layers.isEmpty)
    }
}
