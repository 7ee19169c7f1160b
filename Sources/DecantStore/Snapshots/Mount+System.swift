import DecantIO
import Foundation

extension Mount {
    /// Mounts this at `target` with `mount(2)`, as containerd's `Mount.Mount` does: `ro`, `bind`
    /// and `rbind` become flags, the other options are the file system's data, which overlayfs
    /// reads with its escapes (``overlayEscaped(_:)``) — `mount(8)` from util-linux 2.39 on may
    /// split an escaped comma apart. A mount whose options are too long for one page is made from
    /// its layers' common directory (``compacted()``), which this process enters for the call
    /// and leaves again: not for a process whose other threads use relative paths meanwhile.
    public func mount(at target: String) throws(SystemCallError) {
        let (mount, directory) = compacted()
        let manager = FileManager.default
        let previous = manager.currentDirectoryPath
        let target = target.hasPrefix("/") ? target : previous + "/" + target
        var flags: MountFlags = mount.type == "bind" ? .bind : []
        var data: [String] = []
        for option in mount.options {
            switch option {
            case "ro": flags.insert(.readOnly)
            case "rw": break
            case "bind": flags.insert(.bind)
            case "rbind": flags.formUnion([.bind, .recursive])
            default: data.append(option)
            }
        }
        if let directory, !manager.changeCurrentDirectoryPath(directory) {
            throw SystemCallError("chdir", path: directory, errno: .noSuchFileOrDirectory)
        }
        defer { if directory != nil { _ = manager.changeCurrentDirectoryPath(previous) } }
        try KernelMount.mount(source: mount.source, target: target, type: mount.type == "bind" ? nil : mount.type,
                              flags: flags, data: data.isEmpty ? nil : data.joined(separator: ","))
        // A new bind mount ignores every flag but its own: read-only takes a remount.
        if flags.isSuperset(of: [.bind, .readOnly]) {
            try KernelMount.mount(source: "none", target: target, type: nil, flags: [.remount, .bind, .readOnly], data: nil)
        }
    }
}
