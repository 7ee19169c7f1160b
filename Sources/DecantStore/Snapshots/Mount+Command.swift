import Foundation

extension Mount {
    /// `path` as overlayfs reads a directory in its options: `\`, `,` and `:` escaped by a `\`.
    /// A path without them (every store's but one under such a directory) is unchanged, so
    /// options stay containerd's; with them, containerd's would split the path apart.
    public static func overlayEscaped(_ path: String) -> String {
        path.reduce(into: "") { escaped, character in
            if character == "\\" || character == "," || character == ":" { escaped.append("\\") }
            escaped.append(character)
        }
    }

    /// The path an ``overlayEscaped(_:)`` one names.
    static func overlayUnescaped(_ escaped: String) -> String {
        var path = ""
        var escaping = false
        for character in escaped {
            if character == "\\" && !escaping {
                escaping = true
                continue
            }
            escaping = false
            path.append(character)
        }
        return path
    }

    /// The directories of a `lowerdir` value, still escaped: split at the colons no `\` escapes.
    static func lowerdirs(_ value: Substring) -> [Substring] {
        var directories: [Substring] = []
        var start = value.startIndex
        var index = value.startIndex
        while index < value.endIndex {
            if value[index] == "\\" {
                index = value.index(after: index)
                if index == value.endIndex { break }
            } else if value[index] == ":" {
                directories.append(value[start..<index])
                start = value.index(after: index)
            }
            index = value.index(after: index)
        }
        directories.append(value[start...])
        return directories
    }

    /// The arguments of the `mount(8)` that mounts this at `target`, and the directory to run it
    /// in when the options are too long otherwise (see ``compacted()``).
    public func mountArguments(target: String) -> (arguments: [String], directory: String?) {
        let (mount, directory) = compacted()
        let isBind = mount.type == "bind"
        var arguments = ["-t", isBind ? "none" : mount.type, mount.source, target]
        let options = mount.options + (isBind ? ["bind"] : [])
        if !options.isEmpty { arguments += ["-o", options.joined(separator: ",")] }
        return (arguments, directory)
    }

    /// The `mount(8)` command line that mounts this at `target`, quoted for a POSIX shell: from
    /// the layers' common directory when the options are too long otherwise.
    public func command(target: String) -> String {
        let (arguments, directory) = mountArguments(target: target)
        let words = (["mount"] + arguments).map(Self.shellQuoted).joined(separator: " ")
        return (directory.map { "cd \(Self.shellQuoted($0)) && " } ?? "") + words
    }

    private static func shellQuoted(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || "-_./=:,@%+".unicodeScalars.contains(scalar))
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
