import Foundation

/// containerd's native snapshotter: every snapshot is a full copy of its parent plus its own
/// changes, mounted as a bind mount. Copies go through `cp -a --reflink=auto`, which shares
/// extents where the filesystem can (btrfs, xfs) and uses `copy_file_range` elsewhere, and keeps
/// owners, modes, times, xattrs, devices and hard links.
public final class NativeSnapshotter: DirectorySnapshotter {
    public let name = "native"
    let catalog: SnapshotCatalog
    let home: String

    init(layout: StoreLayout, metadata: MetadataStore) {
        catalog = SnapshotCatalog(snapshotter: "native", metadata: metadata)
        home = layout.snapshots("native")
    }

    func tree(_ id: Int64) -> String { snapshotDirectory(id) + "/fs" }

    func makeTree(_ record: SnapshotRecord, ancestors: [SnapshotRecord]) throws {
        try FileManager.default.createDirectory(atPath: snapshotDirectory(record.id!), withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        guard let parent = ancestors.first else {
            try FileManager.default.createDirectory(atPath: tree(record.id!), withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o755])
            return
        }
        let copy = Process()
        copy.executableURL = URL(fileURLWithPath: "/bin/cp")
        copy.arguments = ["-a", "--reflink=auto", tree(parent.id!), tree(record.id!)]
        let errors = Pipe()
        copy.standardError = errors
        try copy.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        copy.waitUntilExit()
        guard copy.terminationStatus == 0 else {
            throw StoreError(.io, "cannot copy snapshot \(parent.key): \(message)")
        }
    }

    func mounts(_ record: SnapshotRecord, ancestors: [SnapshotRecord]) -> [Mount] {
        let mode = record.kind == SnapshotKind.view.rawValue ? "ro" : "rw"
        return [Mount(type: "bind", source: tree(record.id!), options: [mode, "rbind"])]
    }

    func committed(_ record: SnapshotRecord) {}
}
