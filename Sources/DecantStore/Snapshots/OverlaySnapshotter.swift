import Foundation

/// containerd's overlayfs snapshotter: each snapshot holds only its own changes in `<id>/fs`; an
/// active one mounts as `overlay` over its parents' `fs` dirs, nearest first.
public final class OverlaySnapshotter: DirectorySnapshotter {
    public let name = "overlayfs"
    let catalog: SnapshotCatalog
    let home: String

    init(layout: StoreLayout, metadata: MetadataStore) {
        catalog = SnapshotCatalog(snapshotter: "overlayfs", metadata: metadata)
        home = layout.snapshots("overlay")
    }

    func tree(_ id: Int64) -> String { snapshotDirectory(id) + "/fs" }
    private func work(_ id: Int64) -> String { snapshotDirectory(id) + "/work" }

    func makeTree(_ record: SnapshotRecord, ancestors: [SnapshotRecord]) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: snapshotDirectory(record.id!), withIntermediateDirectories: false,
                                    attributes: [.posixPermissions: 0o700])
        try manager.createDirectory(atPath: tree(record.id!), withIntermediateDirectories: false,
                                    attributes: [.posixPermissions: 0o755])
        if record.kind == SnapshotKind.active.rawValue {
            try manager.createDirectory(atPath: work(record.id!), withIntermediateDirectories: false,
                                        attributes: [.posixPermissions: 0o711])
        }
    }

    func mounts(_ record: SnapshotRecord, ancestors: [SnapshotRecord]) -> [Mount] {
        let lower = ancestors.map { tree($0.id!) }
        let escaped = lower.map(Mount.overlayEscaped)
        if record.kind == SnapshotKind.view.rawValue {
            if lower.isEmpty { return [Mount(type: "bind", source: tree(record.id!), options: ["ro", "rbind"])] }
            if lower.count == 1 { return [Mount(type: "bind", source: lower[0], options: ["ro", "rbind"])] }
            return [Mount(type: "overlay", source: "overlay", options: ["lowerdir=" + escaped.joined(separator: ":")])]
        }
        if lower.isEmpty { return [Mount(type: "bind", source: tree(record.id!), options: ["rw", "rbind"])] }
        return [Mount(type: "overlay", source: "overlay", options: [
            "index=off", "workdir=" + Mount.overlayEscaped(work(record.id!)), "upperdir=" + Mount.overlayEscaped(tree(record.id!)),
            "lowerdir=" + escaped.joined(separator: ":"),
        ])]
    }

    func committed(_ record: SnapshotRecord) {
        try? FileManager.default.removeItem(atPath: work(record.id!))
    }
}
