import Crypto

/// A content digest in OCI form, `algorithm:encoded` — only `sha256` is accepted, as containerd does
/// for content it stores.
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The algorithm name, always `sha256`.
    public let algorithm: String
    /// The lowercase hex encoding of the hash.
    public let encoded: String

    /// Parses `sha256:<64 lowercase hex digits>`; anything else is `nil`.
    public init?(_ description: String) {
        guard let colon = description.firstIndex(of: ":") else { return nil }
        let algorithm = String(description[..<colon])
        let encoded = String(description[description.index(after: colon)...])
        guard algorithm == "sha256", encoded.utf8.count == 64,
              encoded.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// The digest of a finished SHA-256 computation.
    public init(_ hash: SHA256.Digest) {
        self.algorithm = "sha256"
        self.encoded = hash.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The SHA-256 digest of `bytes`.
    public static func sha256<Bytes: Sequence>(of bytes: Bytes) -> Digest where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        return Digest(hasher.finalize())
    }

    public var description: String { "\(algorithm):\(encoded)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = Digest(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not a sha256 digest: \(text)"))
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
