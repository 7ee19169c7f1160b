import DecantTestSupport
import Foundation
import Testing

/// `oci-archive:` and `docker-archive:` files are indexed by decant's own reader of tar headers.
/// A hostile header fails the pull with an error naming the archive: it neither sends the reader
/// back onto the same header for ever nor makes it allocate the size it claims. The built
/// `decant` runs under a time and an address-space limit, so a regression fails rather than
/// hangs or takes the machine's memory.
@Suite struct HostileArchiveTests {
    @Test(arguments: [
        // -2000 (octal) rounds to -1024: the next header would be this one again.
        ("-2000", "0", "invalid tar header at byte 0"),
        ("+17", "0", "invalid tar header at byte 0"),
        // An 8 GiB GNU long name, then a PAX header as big.
        ("77777777777", "L", "8589934591-byte name or PAX header at byte 0"),
        ("77777777777", "x", "8589934591-byte name or PAX header at byte 0"),
    ])
    func aHostileHeaderFailsThePull(size: String, type: String, message: String) async throws {
        let scratch = try Scratch("hostile-archive")
        let archive = scratch.url.appendingPathComponent("image.tar")
        try (Self.header(name: "oci-layout", size: size, type: type) + Data(count: 1024)).write(to: archive)
        let command = "ulimit -v 4000000; DECANT_ROOT='\(scratch.url.path)/root' exec timeout -k 5 60 '\(Repository.decant)' pull 'oci-archive:\(archive.path)'"
        let output = try await Shell.run(["bash", "-c", command])
        #expect(output.status == 1, "exit status \(output.status): \(output.stderr)")
        #expect(output.stderr.contains("archive \(archive.path): ") && output.stderr.contains(message), "\(output.stderr)")
    }

    /// A ustar header with `size` written as given, and a valid checksum.
    static func header(name: String, size: String, type: String) -> Data {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (index, byte) in text.utf8.enumerated() { block[offset + index] = byte }
        }
        put(name, at: 0)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put(size, at: 124)
        put("00000000000", at: 136)
        put(type, at: 156)
        put("ustar", at: 257)
        put("00", at: 263)
        put("        ", at: 148)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(String(checksum, radix: 8).leftPadded(to: 6) + "\0 ", at: 148)
        return Data(block)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
