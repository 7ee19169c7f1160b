@_spi(Benchmarks) @testable import DecantArchive
import Testing

/// Header field parsing against the rules of Go's `archive/tar`, which containerd reads with.
@Suite struct TarHeaderTests {
    private func block(_ field: [UInt8], at offset: Int) -> TarHeaderBlock {
        var bytes = [UInt8](repeating: 0, count: 512)
        bytes.replaceSubrange(offset..<(offset + field.count), with: field)
        return TarHeaderBlock(bytes: bytes)
    }

    @Test func octalTrimsSpacesAndNULs() throws {
        #expect(try block(Array(" 0000755\0".utf8), at: 100).octal(100, 8) == 0o755)
        #expect(try block(Array("17777777777 ".utf8), at: 124).numeric(124, 12) == 0o17777777777)
        #expect(try block([], at: 0).octal(100, 8) == 0)
    }

    @Test func invalidOctalIsAnError() {
        #expect(throws: TarFormatError.self) { try block(Array("0007a5\0".utf8), at: 100).octal(100, 8) }
    }

    @Test func base256CarriesLargeAndNegativeNumbers() throws {
        // 2^33 in GNU base-256: marker bit, then big-endian.
        let large: [UInt8] = [0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0]
        #expect(try block(large, at: 124).numeric(124, 12) == 1 << 33)
        // -1: every bit set.
        let minusOne = [UInt8](repeating: 0xFF, count: 8)
        #expect(try block(minusOne, at: 108).numeric(108, 8) == -1)
        // A uid above the 7-digit octal limit.
        let uid: [UInt8] = [0x80, 0, 0, 0, 0x00, 0x4C, 0x4B, 0x40]
        #expect(try block(uid, at: 108).numeric(108, 8) == 5_000_000)
    }

    @Test func checksumMustMatch() {
        var bytes = header(magic: Array("ustar\u{0}00".utf8))
        #expect(TarHeaderBlock(bytes: bytes).format == .ustar)
        bytes[0] = UInt8(ascii: "F")
        #expect(TarHeaderBlock(bytes: bytes).format == nil)
    }

    /// A header with `fields` (by default the name "é": bytes above 0x7F, so signed and unsigned
    /// sums differ), `magic` (8 bytes at 257), `trailer` (4 bytes at 508) and the checksum tar
    /// computes with signed or unsigned bytes.
    private func header(magic: [UInt8], trailer: [UInt8] = [], signedSum: Bool = false,
                        fields: [(offset: Int, text: String)] = [(0, "é")]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 512)
        for field in fields { bytes.replaceSubrange(field.offset..<(field.offset + field.text.utf8.count), with: Array(field.text.utf8)) }
        bytes.replaceSubrange(257..<(257 + magic.count), with: magic)
        bytes.replaceSubrange(508..<(508 + trailer.count), with: trailer)
        let sum = bytes.enumerated().reduce(0) { total, item in
            if (148..<156).contains(item.offset) { return total + 0x20 }
            return total + (signedSum ? Int(Int8(bitPattern: item.element)) : Int(item.element))
        }
        let text = Array(String(sum, radix: 8).utf8)
        bytes.replaceSubrange(148..<156, with: [UInt8](repeating: UInt8(ascii: "0"), count: 6 - text.count) + text + [0, 0x20])
        return bytes
    }

    @Test(arguments: [
        (Array("ustar\u{0}00".utf8), TarHeaderBlock.Format.ustar),
        (Array("ustar  \u{0}".utf8), .gnu),
        ([UInt8](repeating: 0, count: 8), .v7),
        // Go reads "ustar\0" as POSIX whatever the version, and "ustar " as GNU only with " \0".
        (Array("ustar\u{0}01".utf8), .ustar),
        (Array("ustar  x".utf8), .v7),
        (Array("ustaR\u{0}00".utf8), .v7),
    ])
    func formatFollowsMagicAndVersion(_ magic: [UInt8], _ format: TarHeaderBlock.Format) {
        #expect(TarHeaderBlock(bytes: header(magic: magic)).format == format)
    }

    @Test func starIsPOSIXMagicWithATrailer() {
        #expect(TarHeaderBlock(bytes: header(magic: Array("ustar\u{0}00".utf8), trailer: Array("tar\u{0}".utf8))).format == .star)
        #expect(TarHeaderBlock(bytes: header(magic: Array("ustar  \u{0}".utf8), trailer: Array("tar\u{0}".utf8))).format == .gnu)
    }

    /// The regular file `fields` describe (over a plain one named "name"), read through TarReader.
    private func readEntry(magic: [UInt8], trailer: [UInt8] = [], fields: [(offset: Int, text: String)]) throws -> TarEntry? {
        let plain: [(offset: Int, text: String)] = [
            (0, "name"), (100, "0000644"), (108, "0000000"), (116, "0000000"), (124, "00000000000"),
            (136, "00000000100"), (156, "0"),
        ]
        let bytes = header(magic: magic, trailer: trailer, fields: plain + fields) + [UInt8](repeating: 0, count: 1024)
        let queue = ChunkQueue(buffers: 1, capacity: bytes.count)
        let buffer = try #require(queue.takeEmpty())
        buffer.free.copyBytes(from: bytes)
        buffer.count = bytes.count
        queue.send(buffer)
        queue.close(.finished)
        return try TarReader(queue: queue).next()
    }

    /// star's prefix field is 131 bytes, then the access time: a prefix that fills it is not
    /// run on into the times (read as ustar it would be), and the access time is the entry's.
    @Test func starEntriesTakeTheShortPrefixAndTheAccessTime() throws {
        let prefix = String(repeating: "p", count: 131)
        let entry = try #require(try readEntry(magic: Array("ustar\u{0}00".utf8), trailer: Array("tar\u{0}".utf8),
                                               fields: [(345, prefix), (476, "00000000200"), (488, "00000000300")]))
        #expect(entry.name == prefix + "/name")
        #expect(entry.modificationTime.seconds == 0o100)
        #expect(entry.accessTime?.seconds == 0o200)
        #expect(throws: TarFormatError.self) {
            try readEntry(magic: Array("ustar\u{0}00".utf8), trailer: Array("tar\u{0}".utf8), fields: [(488, "0000000030x")])
        }
    }

    /// Go before 1.8 wrote a ustar prefix where GNU headers keep their times; Go's reader (and so
    /// containerd) takes such a field as the prefix when the times do not parse and it is ASCII.
    @Test(arguments: [
        ("00000000200", "name", Int64?.some(0o200)),
        ("some/dir", "some/dir/name", nil),
        ("\u{e9}t\u{e9}", "name", nil),
        // A change time that does not parse takes the access time with it.
        ("00000000200\u{0}zz", "00000000200/name", nil),
    ])
    func gnuTimesThatDoNotParseAreAPrefix(_ field: String, _ name: String, _ accessTime: Int64?) throws {
        let entry = try #require(try readEntry(magic: Array("ustar  \u{0}".utf8), fields: [(345, field)]))
        #expect(entry.name == name)
        #expect(entry.accessTime?.seconds == accessTime)
    }

    @Test func signedAndUnsignedChecksumsAreBothAccepted() {
        let unsigned = header(magic: Array("ustar\u{0}00".utf8))
        let signed = header(magic: Array("ustar\u{0}00".utf8), signedSum: true)
        #expect(unsigned[148..<156] != signed[148..<156])
        #expect(TarHeaderBlock(bytes: unsigned).format == .ustar)
        #expect(TarHeaderBlock(bytes: signed).format == .ustar)
    }

    @Test func paxRecordsParseAndLaterOnesWin() throws {
        let data = Array((record("path=first/name") + record("path=second/name") + record("SCHILY.xattr.user.k=value")).utf8)
        let records = try PAXRecords(parsing: data)
        #expect(records["path"].map { String(decoding: $0, as: UTF8.self) } == "second/name")
        #expect(records["SCHILY.xattr.user.k"] == Array("value".utf8))
        #expect(records.records.count == 2)
    }

    /// A PAX record with its correct length prefix.
    private func record(_ body: String) -> String {
        var length = body.utf8.count + 2
        length += String(length).count
        if String(length).count + body.utf8.count + 2 != length { length += 1 }
        return "\(length) \(body)\n"
    }

    @Test(arguments: ["99 path=x\n", "10 path=x", "9 pathx\n", "x path=abc\n", "11 path=a\0b\n"])
    func malformedPAXRecordsAreErrors(_ text: String) {
        #expect(throws: TarFormatError.self) { try PAXRecords(parsing: Array(text.utf8)) }
    }
}
