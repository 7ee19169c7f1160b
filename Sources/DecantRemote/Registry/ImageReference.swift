import DecantOCI

/// A registry image reference, normalized the way Docker does it: `alpine` is
/// `docker.io/library/alpine:latest`, `host:5000/team/app@sha256:…` keeps its host and digest.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry host as the user knows it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    public var domain: String
    /// The repository path inside the registry (`library/alpine`, `team/app`).
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    /// The docker.io default registry, whose API lives at another host.
    public static let dockerHub = "docker.io"

    /// Parses `[DOMAIN/]PATH[:TAG][@DIGEST]`. The first component is a domain when it holds a `.`
    /// or a `:`, or is `localhost`; otherwise the image is on Docker Hub, where a single-component
    /// name lives under `library/`. Without a tag or digest, the tag is `latest`.
    public init(parsing text: String) throws(RemoteError) {
        var rest = Substring(text)
        guard !rest.isEmpty else { throw RemoteError(.invalidReference, "an empty image reference") }
        if let at = rest.firstIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            guard let digest = Digest(digestText) else {
                throw RemoteError(.invalidReference, "\(text.debugDescription): \(digestText.debugDescription) is not a sha256 digest")
            }
            self.digest = digest
            rest = rest[..<at]
        }
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let tag = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(tag) else {
                throw RemoteError(.invalidReference, "\(text.debugDescription): \(tag.debugDescription) is not a valid tag")
            }
            self.tag = tag
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            domain = first == "index.docker.io" ? Self.dockerHub : first
            components.removeFirst()
        } else {
            domain = Self.dockerHub
        }
        if domain == Self.dockerHub && components.count == 1 { components.insert("library", at: 0) }
        for component in components where !Self.isValidPathComponent(component) {
            throw RemoteError(.invalidReference,
                              "\(text.debugDescription): repository component \(component.debugDescription) must be lowercase letters, digits and separators (. _ __ -)")
        }
        repository = components.joined(separator: "/")
        if tag == nil && digest == nil { tag = "latest" }
    }

    /// What a manifest request names: the digest when there is one (it pins the content), else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The normalized reference, which the image is recorded under.
    public var description: String {
        var text = "\(domain)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    private static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.utf8.first, tag.utf8.count <= 128, first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return tag.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// distribution/reference's path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    private static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last,
              isLowerAlphanumeric(first), isLowerAlphanumeric(last) else { return false }
        var index = 0
        while index < bytes.count {
            if isLowerAlphanumeric(bytes[index]) { index += 1; continue }
            var end = index
            while end < bytes.count && !isLowerAlphanumeric(bytes[end]) { end += 1 }
            let separator = String(decoding: bytes[index..<end], as: UTF8.self)
            guard separator == "." || separator == "_" || separator == "__" || separator.allSatisfy({ $0 == "-" }) else { return false }
            index = end
        }
        return true
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
