#if canImport(Glibc)
import Glibc
#endif

/// An OS/architecture/variant triple, matched the way containerd's platform matcher does.
public struct Platform: Sendable, Codable, Hashable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case os
        case architecture
        case variant
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// Parses `os/arch[/variant]` (or just `arch`, on Linux), normalizing aliases.
    public init(parsing text: String) throws(OCIError) {
        let parts = text.lowercased().split(separator: "/").map(String.init)
        switch parts.count {
        case 1: self.init(os: "linux", architecture: parts[0])
        case 2: self.init(os: parts[0], architecture: parts[1])
        case 3: self.init(os: parts[0], architecture: parts[1], variant: parts[2])
        default: throw OCIError("invalid platform \(text.debugDescription): expected os/arch[/variant]")
        }
        guard !os.isEmpty, !architecture.isEmpty else { throw OCIError("invalid platform \(text.debugDescription)") }
        self = normalized
    }

    /// The machine this runs on.
    public static var host: Platform {
        var name = utsname()
        uname(&name)
        let machine = withUnsafePointer(to: name.machine) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
        return Platform(os: "linux", architecture: machine).normalized
    }

    /// containerd's `platforms.Normalize`: `x86_64`→`amd64`, `aarch64`→`arm64` (variant `v8`),
    /// `armhf`→`arm/v7`, `armel`→`arm/v6`, and the default variants.
    public var normalized: Platform {
        var result = self
        result.os = os.lowercased()
        switch architecture.lowercased() {
        case "x86_64", "x86-64", "amd64":
            result.architecture = "amd64"
            if variant == "v1" { result.variant = nil }
        case "aarch64", "arm64":
            result.architecture = "arm64"
            if variant == nil || variant == "8" || variant == "v8" { result.variant = "v8" }
        case "armhf":
            result.architecture = "arm"
            result.variant = "v7"
        case "armel":
            result.architecture = "arm"
            result.variant = "v6"
        case "arm":
            result.architecture = "arm"
            switch variant {
            case nil, "7", "v7": result.variant = "v7"
            case "5", "6", "8": result.variant = "v" + variant!
            default: break
            }
        case "i386", "i686", "386":
            result.architecture = "386"
        default:
            result.architecture = architecture.lowercased()
        }
        return result
    }

    /// Whether an image for `candidate` runs here: same OS and architecture, and the variant equal
    /// after normalization (containerd's `platforms.Only` also accepts older ARM variants).
    public func matches(_ candidate: Platform) -> Bool {
        let wanted = normalized
        let offered = candidate.normalized
        guard wanted.os == offered.os, wanted.architecture == offered.architecture else { return false }
        if wanted.variant == offered.variant { return true }
        if wanted.architecture == "arm", let mine = wanted.variant, let theirs = offered.variant,
           let mineNumber = Int(mine.dropFirst()), let theirNumber = Int(theirs.dropFirst()) {
            return theirNumber <= mineNumber
        }
        return false
    }

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }
}
