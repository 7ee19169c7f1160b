import DecantIO
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Files of an image layout, wherever they are: a directory or an (uncompressed) tar.
protocol LayoutFiles: Sendable {
    /// Where the files are, for messages.
    var location: String { get }
    /// The file's size, or `nil` when it is absent.
    func size(_ path: String) -> Int64?
    /// The file's bytes from `offset` on.
    func open(_ path: String, offset: Int64) throws(RemoteError) -> any ByteSource
}

extension LayoutFiles {
    func read(_ path: String, limit: Int64 = 64 << 20) throws(RemoteError) -> Data {
        guard let size = size(path) else { throw RemoteError(.notFound, "\(location): \(path) not found") }
        guard size <= limit else { throw RemoteError(.unsupported, "\(location): \(path) is \(size) bytes, more than \(limit)") }
        let source = try open(path, offset: 0)
        var data = Data(capacity: Int(size))
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        while Int64(data.count) < size {
            let count: Int
            do {
                count = try source.read(into: chunk)
            } catch {
                throw RemoteError(.io, "\(location): cannot read \(path): \(error)")
            }
            if count == 0 { break }
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<count]))
        }
        return data
    }
}

/// An image layout directory.
struct DirectoryFiles: LayoutFiles {
    let root: String
    var location: String { root }

    init(root: String) throws(RemoteError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RemoteError(.notFound, "OCI layout \(root) not found (not a directory)")
        }
        self.root = root
    }

    func size(_ path: String) -> Int64? {
        var status = stat()
        guard stat(root + "/" + path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(status.st_size)
    }

    func open(_ path: String, offset: Int64) throws(RemoteError) -> any ByteSource {
        do {
            if offset == 0 { return try FileByteSource(path: FilePath(root + "/" + path)) }
            let file = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(root + "/" + path, flags: O_RDONLY))
            return FileRangeByteSource(file: file, path: root + "/" + path, offset: offset, length: max(0, (size(path) ?? 0) - offset))
        } catch {
            throw RemoteError(error.errno == .noSuchFileOrDirectory ? .notFound : .io, "\(location): cannot open \(path): \(error)")
        }
    }
}

/// The members of an uncompressed tar (what `oci-archive` and `docker save` write), indexed by
/// one pass over its headers; each member is then read in place with `pread`.
struct TarFiles: LayoutFiles {
    let archive: String
    private let file: OwnedDescriptor
    private let members: [String: (offset: Int64, size: Int64)]
    var location: String { archive }

    init(archive: String) throws(RemoteError) {
        self.archive = archive
        do {
            file = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(archive, flags: O_RDONLY))
        } catch {
            throw RemoteError(error.errno == .noSuchFileOrDirectory ? .notFound : .io, "archive \(archive): \(error)")
        }
        members = try Self.index(file, archive)
    }

    /// The largest GNU long name or PAX header read: names are at most `PATH_MAX`, and a hostile
    /// archive must not make the index allocate what its header claims.
    static let metadataLimit: Int64 = 1 << 20

    func size(_ path: String) -> Int64? { members[Self.normalize(path)]?.size }

    func open(_ path: String, offset: Int64) throws(RemoteError) -> any ByteSource {
        guard let member = members[Self.normalize(path)] else { throw RemoteError(.notFound, "\(archive): \(path) not found") }
        let skip = min(offset, member.size)
        return FileRangeByteSource(file: file, path: archive + ":" + path, offset: member.offset + skip, length: member.size - skip)
    }

    private static func normalize(_ path: String) -> String {
        var trimmed = path
        while trimmed.hasPrefix("./") { trimmed.removeFirst(2) }
        while trimmed.hasPrefix("/") { trimmed.removeFirst() }
        return trimmed
    }

    /// Reads ustar headers, with PAX `path` and GNU long names, noting each regular file's data.
    private static func index(_ file: OwnedDescriptor, _ archive: String) throws(RemoteError) -> [String: (offset: Int64, size: Int64)] {
        var members: [String: (offset: Int64, size: Int64)] = [:]
        var offset: Int64 = 0
        var header = [UInt8](repeating: 0, count: 512)
        var longName: String?
        var links: [String: String] = [:]
        func readExactly(_ count: Int, at position: Int64) throws(RemoteError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { pread(file.rawValue, $0.baseAddress, count, off_t(position)) }
            guard got == count else { throw RemoteError(.io, "archive \(archive) is truncated at byte \(position)") }
            return bytes
        }
        while true {
            header = try readExactly(512, at: offset)
            if header.allSatisfy({ $0 == 0 }) { break }
            func field(_ start: Int, _ length: Int) -> String {
                let slice = header[start..<(start + length)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeText = field(124, 12).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
            // A sign is not octal: "-1000" would move `offset` back onto this header for ever.
            guard sizeText.allSatisfy({ ("0"..."7").contains($0) }), let size = Int64(sizeText.isEmpty ? "0" : sizeText, radix: 8) else {
                throw RemoteError(.io, "archive \(archive): invalid tar header at byte \(offset)")
            }
            var name = field(0, 100)
            if field(257, 6).hasPrefix("ustar") {
                let prefix = field(345, 155)
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            let data = offset + 512
            let type = header[156]
            if type == UInt8(ascii: "L") || type == UInt8(ascii: "x"), size > Self.metadataLimit {
                throw RemoteError(.unsupported, "archive \(archive): a \(size)-byte name or PAX header at byte \(offset), more than \(Self.metadataLimit)")
            }
            switch type {
            case UInt8(ascii: "L"):
                longName = String(decoding: try readExactly(Int(size), at: data).prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                let records = String(decoding: try readExactly(Int(size), at: data), as: UTF8.self)
                for line in records.split(separator: "\n") {
                    if let range = line.range(of: " path=") { longName = String(line[range.upperBound...]) }
                }
            case UInt8(ascii: "0"), 0:
                members[normalize(longName ?? name)] = (data, size)
                longName = nil
            case UInt8(ascii: "1"), UInt8(ascii: "2"):
                // docker save links duplicate layers to one copy; resolved below.
                let target = field(157, 100)
                let member = normalize(longName ?? name)
                let base = type == UInt8(ascii: "2") ? (member as NSString).deletingLastPathComponent : ""
                links[member] = normalize((base.isEmpty ? target : base + "/" + target) as String)
                longName = nil
            default:
                longName = nil
            }
            offset = data + (size + 511) / 512 * 512
        }
        for (member, target) in links {
            let resolved = URL(fileURLWithPath: "/" + target).standardizedFileURL.path.dropFirst()
            if let data = members[String(resolved)] { members[member] = data }
        }
        return members
    }
}
