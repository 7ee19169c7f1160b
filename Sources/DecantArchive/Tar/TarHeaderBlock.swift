/// Field access on one raw 512-byte tar header, following Go's `archive/tar` parsing rules
/// (which is what containerd reads layers with).
struct TarHeaderBlock {
    static let size = 512

    enum Format {
        case v7
        case ustar
        case gnu
        /// Schilling's star: POSIX magic and "tar\0" in the last four bytes, a shorter prefix
        /// field followed by access and change times.
        case star
    }

    let bytes: [UInt8]

    var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// The format, or `nil` when the checksum does not match (signed or unsigned sum, as tar allows).
    var format: Format? {
        guard let stored = try? octal(148, 8) else { return nil }
        // Read once per entry: sums and magic compared in place, nothing allocated.
        return bytes.withUnsafeBufferPointer { block -> Format? in
            // The checksum field itself counts as eight spaces.
            var unsigned = 8 * Int64(UInt8(ascii: " "))
            var signed = unsigned
            for index in 0..<148 {
                unsigned += Int64(block[index])
                signed += Int64(Int8(bitPattern: block[index]))
            }
            for index in 156..<Self.size {
                unsigned += Int64(block[index])
                signed += Int64(Int8(bitPattern: block[index]))
            }
            guard stored == unsigned || stored == signed else { return nil }
            // Magic "ustar\0" at 257 is POSIX whatever the version after it (Go does not read
            // the version there); "ustar " is GNU only with the version " \0".
            guard block[257] == UInt8(ascii: "u"), block[258] == UInt8(ascii: "s"), block[259] == UInt8(ascii: "t"),
                  block[260] == UInt8(ascii: "a"), block[261] == UInt8(ascii: "r") else { return .v7 }
            if block[262] == 0 {
                let trailer = (block[508], block[509], block[510], block[511])
                return trailer == (UInt8(ascii: "t"), UInt8(ascii: "a"), UInt8(ascii: "r"), 0) ? .star : .ustar
            }
            if (block[262], block[263], block[264]) == (UInt8(ascii: " "), UInt8(ascii: " "), 0) { return .gnu }
            return .v7
        }
    }

    var typeflag: UInt8 { bytes[156] }

    /// A NUL-terminated string field.
    func string(_ offset: Int, _ length: Int) -> [UInt8] {
        let field = bytes[offset..<(offset + length)]
        if let nul = field.firstIndex(of: 0) { return Array(field[..<nul]) }
        return Array(field)
    }

    /// A numeric field: octal text, or GNU base-256 when the high bit of the first byte is set.
    func numeric(_ offset: Int, _ length: Int) throws(TarFormatError) -> Int64 {
        let first = bytes[offset]
        if first & 0x80 != 0 {
            // Base-256, two's complement, big-endian; bit 7 of the first byte is only the marker.
            // A negative number is read inverted (-a-1 == ~a), as Go does.
            let inversion: UInt8 = first & 0x40 != 0 ? 0xFF : 0
            var value: UInt64 = 0
            for index in offset..<(offset + length) {
                var byte = bytes[index] ^ inversion
                if index == offset { byte &= 0x7F }
                if value >> 56 != 0 { throw TarFormatError("numeric field overflows 64 bits") }
                value = value << 8 | UInt64(byte)
            }
            if value >> 63 != 0 { throw TarFormatError("numeric field overflows 64 bits") }
            return inversion == 0xFF ? ~Int64(value) : Int64(value)
        }
        return try octal(offset, length)
    }

    /// Octal text with leading and trailing spaces and NULs trimmed; empty is 0.
    func octal(_ offset: Int, _ length: Int) throws(TarFormatError) -> Int64 {
        var start = offset, end = offset + length
        while start < end, bytes[start] == 0 || bytes[start] == 0x20 { start += 1 }
        while end > start, bytes[end - 1] == 0 || bytes[end - 1] == 0x20 { end -= 1 }
        var value: Int64 = 0
        for index in start..<end {
            let byte = bytes[index]
            guard (0x30...0x37).contains(byte) else {
                throw TarFormatError("invalid octal number \(String(decoding: bytes[offset..<(offset + length)], as: UTF8.self).debugDescription)")
            }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
            guard !overflow else { throw TarFormatError("octal number overflows 64 bits") }
            value = shifted + Int64(byte - 0x30)
        }
        return value
    }
}

/// A malformed header; the reader adds the layer and entry.
struct TarFormatError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
