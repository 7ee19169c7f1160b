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
        var bytes = [UInt8](repeating: 0, count: 512)
        bytes.replaceSubrange(0..<4, with: Array("file".utf8))
        bytes.replaceSubrange(257..<265, with: Array("ustar\000".utf8))
        let sum = bytes.enumerated().reduce(0) { $0 + Int((148..<156).contains($1.offset) ? 0x20 : $1.element) }
        let text = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - text.count) + text + [0, 0x20]
        bytes.replaceSubrange(148..<156, with: field)
        #expect(TarHeaderBlock(bytes: bytes).format == .ustar)
        bytes[0] = UInt8(ascii: "F")
        #expect(TarHeaderBlock(bytes: bytes).format == nil)
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
