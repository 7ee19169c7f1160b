import Foundation

extension Mount {
    /// `path` as overlayfs reads a directory in its options: `\`, `,` and `:` escaped by a `\`.
    /// A path without them (every store's but one under such a directory) is unchanged, so
    /// options stay containerd's; with them, containerd's would split the path apart. By
    /// Unicode scalar, as the kernel reads bytes: a `,` followed by a combining mark is one
    /// `Character` but still a comma to the kernel.
    public static func overlayEscaped(_ path: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in path.unicodeScalars {
            if scalar == "\\" || scalar == "," || scalar == ":" { escaped.append("\\") }
            escaped.append(scalar)
        }
        return String(escaped)
    }

    /// The path an ``overlayEscaped(_:)`` one names.
    static func overlayUnescaped(_ escaped: String) -> String {
        var path = String.UnicodeScalarView()
        var escaping = false
        for scalar in escaped.unicodeScalars {
            if scalar == "\\" && !escaping {
                escaping = true
                continue
            }
            escaping = false
            path.append(scalar)
        }
        return String(path)
    }

    /// The directories of a `lowerdir` value, still escaped: split at the colons no `\` escapes.
    static func lowerdirs(_ value: Substring) -> [Substring] {
        let scalars = value.unicodeScalars
        var directories: [Substring] = []
        var start = scalars.startIndex
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if scalars[index] == "\\" {
                index = scalars.index(after: index)
                if index == scalars.endIndex { break }
            } else if scalars[index] == ":" {
                directories.append(Substring(scalars[start..<index]))
                start = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        directories.append(Substring(scalars[start...]))
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

    /// The `mount(8)` command line that mounts this at `target` (absolute), quoted for a POSIX
    /// shell: in a subshell that enters the layers' common directory when the options are too
    /// long otherwise. `mount(8)` from util-linux 2.39 on may split an escaped comma apart
    /// (``overlayEscaped(_:)``); ``mount(at:)`` makes the system call itself.
    public func command(target: String) -> String {
        let (arguments, directory) = mountArguments(target: target)
        let words = (["mount"] + arguments).map(Self.shellQuoted).joined(separator: " ")
        return directory.map { "(cd \(Self.shellQuoted($0)) && \(words))" } ?? words
    }

    private static func shellQuoted(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || "-_./=:,@%+".unicodeScalars.contains(scalar))
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
