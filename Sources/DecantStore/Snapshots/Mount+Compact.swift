import Foundation

extension Mount {
    /// The longest option string handed to `mount(2)`: the kernel copies one page of it, and
    /// `mount(8)` may add a few options of its own (containerd keeps the same margin).
    public static var optionLimit: Int { Int(sysconf(Int32(_SC_PAGESIZE))) - 512 }

    /// The directory options naming layer directories (`lowerdir`, `upperdir`, `workdir`).
    private static let directoryOptions = ["lowerdir=", "upperdir=", "workdir="]

    /// This mount with its layer directories made relative to their common parent, and that
    /// parent, when its options are too long for `mount(2)` (an image of a hundred layers or so);
    /// the mount is then made from that directory. As containerd's `compactLowerdirOption`. The
    /// directory is `nil` when the mount fits as it is, or when shortening cannot help.
    public func compacted() -> (mount: Mount, directory: String?) {
        guard options.joined(separator: ",").utf8.count >= Self.optionLimit else { return (self, nil) }
        var paths: [String] = []
        for option in options {
            guard let prefix = Self.directoryOptions.first(where: { option.hasPrefix($0) }) else { continue }
            let value = option.dropFirst(prefix.count)
            paths += prefix == "lowerdir=" ? Self.lowerdirs(value).map(String.init) : [String(value)]
        }
        guard let common = Self.commonParent(paths) else { return (self, nil) }
        let relative = options.map { option -> String in
            guard let prefix = Self.directoryOptions.first(where: { option.hasPrefix($0) }) else { return option }
            let value = option.dropFirst(prefix.count)
            let shortened = Self.lowerdirs(value).map { Substring($0.unicodeScalars.dropFirst(common.unicodeScalars.count + 1)) }
                .joined(separator: ":")
            return prefix + shortened
        }
        return (Mount(type: type, source: source, options: relative), Self.overlayUnescaped(common))
    }

    /// The deepest directory (not `/`) that every one of `paths`, all absolute, lies below (as
    /// escaped as they are).
    private static func commonParent(_ paths: [String]) -> String? {
        guard let first = paths.first, paths.allSatisfy({ $0.hasPrefix("/") }) else { return nil }
        var components = first.split(separator: "/").dropLast()
        for path in paths.dropFirst() {
            let other = path.split(separator: "/").dropLast()
            components = components.prefix(zip(components, other).prefix { $0 == $1 }.count)
        }
        guard !components.isEmpty else { return nil }
        return "/" + components.joined(separator: "/")
    }
}
