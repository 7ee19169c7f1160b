/// Field access on one raw 512-byte tar header, following Go's `archive/tar` parsing rules
/// (which is what containerd reads layers with).
struct TarHeaderBlock {
    static let size = 512

    enum Format {
        case v7
        case ustar
        case gnu
    }

    let bytes: [UInt8]

    var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// The format, or `nil` when the checksum does not match (signed or unsigned sum, as tar allows).
    var format: Format? {
        guard let stored = try? octal(148, 8) else { return nil }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in bytes.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else { return nil }
        let magic = Array(bytes[257..<263])
        let version = Array(bytes[263..<265])
        if magic == Array("ustar\0".utf8) && version == Array("00".utf8) { return .ustar }
        if magic == Array("ustar ".utf8) && version == [UInt8(ascii: " "), 0] { return .gnu }
        return .v7
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
        var field = bytes[offset..<(offset + length)]
        while let first = field.first, first == 0 || first == 0x20 { field = field.dropFirst() }
        while let last = field.last, last == 0 || last == 0x20 { field = field.dropLast() }
        var value: Int64 = 0
        for byte in field {
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
