/// How a layer blob's bytes are compressed.
public enum Compression: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case none
    case gzip
    case zstd

    /// Detects the compression from a blob's first bytes (at least 4 are needed to tell zstd).
    ///
    /// Anything that is neither a gzip nor a zstd magic is taken as uncompressed, as containerd's
    /// `compression.DecompressStream` does.
    public static func detect(magic bytes: some Collection<UInt8>) -> Compression {
        let head = Array(bytes.prefix(4))
        if head.count >= 3, head[0] == 0x1F, head[1] == 0x8B, head[2] == 0x08 { return .gzip }
        if head == [0x28, 0xB5, 0x2F, 0xFD] { return .zstd }
        return .none
    }

    public var description: String { rawValue }
}
