import CArchive
@_spi(Benchmarks) @testable import DecantArchive
import DecantIO
import DecantTestSupport
import Foundation
import Testing

/// Decant reads its own tar headers (libarchive hides the raw typeflag, which containerd's rules
/// depend on); libarchive is the independent second reader it must agree with, entry by entry.
@Suite struct LibarchiveAgreementTests {
    struct Entry: Equatable, CustomStringConvertible {
        var name: String
        var kind: String
        var size: Int64
        var link: String
        var mode: UInt32
        var uid: Int64
        var gid: Int64
        var mtime: Int64

        var description: String { "\(kind) \(name) size=\(size) link=\(link) mode=\(String(mode, radix: 8)) \(uid):\(gid) mtime=\(mtime)" }
    }

    /// Cases whose headers Go's reader, which Decant follows (ContainerdParityTests checks it),
    /// and libarchive read differently: star's 131-byte prefix (libarchive reads 155 bytes) and a
    /// pre-Go-1.8 GNU header's prefix (libarchive ignores it).
    static let readDifferentlyByGo: Set<String> = ["format-odd"]

    @Test func everyEntryReadsTheSameAsLibarchive() async throws {
        let fixtures = try await FixtureSet.get()
        #expect(Set(fixtures.okCases.map(\.name)).isSuperset(of: Self.readDifferentlyByGo))
        for fixture in fixtures.okCases where !Self.readDifferentlyByGo.contains(fixture.name) {
            let path = fixtures.url(fixture.blob).path
            let ours = try Self.readWithDecant(path)
            let theirs = try Self.readWithLibarchive(path)
            #expect(ours.count == theirs.count, "\(fixture.name): \(ours.count) entries, libarchive \(theirs.count)")
            for (mine, other) in zip(ours, theirs) where mine != other {
                Issue.record("\(fixture.name): decant \(mine) / libarchive \(other)")
            }
        }
    }

    private static func normalized(_ name: String) -> String {
        name.hasSuffix("/") && name.count > 1 ? String(name.dropLast()) : name
    }

    static func readWithDecant(_ path: String) throws -> [Entry] {
        let queue = ChunkQueue(buffers: 2, capacity: 64 << 10)
        let decoder = LayerDecoder(source: try FileByteSource(path: .init(path)), declared: nil, gzip: .isal,
                                   layer: path, queue: queue, readSize: 64 << 10)
        Thread { decoder.run() }.start()
        let reader = TarReader(queue: queue)
        defer { queue.abandon() }
        var entries: [Entry] = []
        while let entry = try reader.next() {
            let kind: String
            switch entry.kind {
            case .globalHeader: continue
            case .regular: kind = "file"
            case .directory: kind = "dir"
            case .symlink: kind = "symlink"
            case .hardlink: kind = "hardlink"
            case .characterDevice: kind = "char"
            case .blockDevice: kind = "block"
            case .fifo: kind = "fifo"
            case .unsupported(let flag): kind = "unsupported \(flag)"
            }
            entries.append(Entry(name: normalized(entry.name), kind: kind, size: entry.kind == .regular ? entry.size : 0,
                                 link: entry.linkName, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                                 mtime: entry.modificationTime.seconds))
        }
        try reader.drain()
        return entries
    }

    static func readWithLibarchive(_ path: String) throws -> [Entry] {
        let archive = try #require(archive_read_new())
        defer { archive_read_free(archive) }
        archive_read_support_filter_all(archive)
        archive_read_support_format_tar(archive)
        guard archive_read_open_filename(archive, path, 1 << 16) == ARCHIVE_OK else {
            throw Shell.Failure(message: "libarchive cannot open \(path): \(String(cString: archive_error_string(archive)))")
        }
        var entries: [Entry] = []
        var header: OpaquePointer?
        while true {
            // ARCHIVE_WARN (e.g. a name that does not convert to the locale) still has the entry.
            let status = archive_read_next_header(archive, &header)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry = header else {
                throw Shell.Failure(message: "libarchive cannot read \(path): \(String(cString: archive_error_string(archive)))")
            }
            let hardlink = archive_entry_hardlink(entry).map { String(cString: $0) }
            let symlink = archive_entry_symlink(entry).map { String(cString: $0) }
            // AE_IF* are cast macros Swift does not import: the octal values of <sys/stat.h>.
            let type = archive_entry_filetype(entry)
            let kind: String
            switch type {
            case _ where hardlink != nil: kind = "hardlink"
            case 0o100000: kind = "file"
            case 0o040000: kind = "dir"
            case 0o120000: kind = "symlink"
            case 0o020000: kind = "char"
            case 0o060000: kind = "block"
            case 0o010000: kind = "fifo"
            default: kind = "type \(type)"
            }
            entries.append(Entry(name: normalized(String(cString: archive_entry_pathname(entry))), kind: kind,
                                 size: kind == "file" ? archive_entry_size(entry) : 0,
                                 link: hardlink ?? symlink ?? "", mode: UInt32(archive_entry_perm(entry)),
                                 uid: archive_entry_uid(entry), gid: archive_entry_gid(entry),
                                 mtime: Int64(archive_entry_mtime(entry))))
        }
        return entries
    }
}
