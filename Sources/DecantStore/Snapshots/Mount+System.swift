import DecantIO
import Foundation

extension Mount {
    /// Mounts this at `target` with `mount(2)`, as containerd's `Mount.Mount` does: `ro`, `bind`
    /// and `rbind` become flags, the other options are the file system's data, which overlayfs
    /// reads with its escapes (``overlayEscaped(_:)``) — `mount(8)` from util-linux 2.39 on may
    /// split an escaped comma apart. A mount whose options are too long for one page is made from
    /// its layers' common directory (``compacted()``), entered by a thread of its own (see
    /// ``PrivateWorkingDirectory``): the process's working directory does not move, so other
    /// threads may use relative paths meanwhile.
    public func mount(at target: String) throws(SystemCallError) {
        let (mount, directory) = compacted()
        let target = target.hasPrefix("/") ? target : FileManager.default.currentDirectoryPath + "/" + target
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
        let (source, type, options) = (mount.source, mount.type == "bind" ? nil : mount.type, data.isEmpty ? nil : data.joined(separator: ","))
        let make: @Sendable () throws(SystemCallError) -> Void = { [flags] () throws(SystemCallError) in
            try KernelMount.mount(source: source, target: target, type: type, flags: flags, data: options)
        }
        if let directory {
            try PrivateWorkingDirectory.run(in: directory, make)
        } else {
            try make()
        }
        // A new bind mount ignores every flag but its own: read-only takes a remount.
        if flags.isSuperset(of: [.bind, .readOnly]) {
            try KernelMount.mount(source: "none", target: target, type: nil, flags: [.remount, .bind, .readOnly], data: nil)
        }
    }
}
