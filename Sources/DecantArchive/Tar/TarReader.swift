/// Reads tar entries from a layer's decoded stream, handing out each entry's data straight from
/// the decoder's buffers (no copy).
///
/// Parsing follows Go's `archive/tar` as containerd uses it: ustar, star (shorter prefix, access
/// time), GNU (`L`/`K` long names, base-256 numbers) and PAX (`x` records; `g` returned as a
/// ``TarEntry/Kind/globalHeader``);
/// header-only types (links, devices, directories, fifos) carry no data whatever their size field
/// says; a `\0` typeflag names a directory when the name ends in `/`.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class TarReader {
    private let queue: ChunkQueue
    private var current: ChunkBuffer?
    private var offset = 0
    private var streamEnded = false
    /// Bytes of the current entry's data not yet read, and the padding after them.
    private var remainingData: Int64 = 0
    private var remainingPadding = 0
    /// Called before a buffer goes back to the decoder, so that asynchronous writes still reading
    /// from it can finish first.
    var beforeRecycle: () throws -> Void = {}

    @_spi(Benchmarks) public init(queue: ChunkQueue) {
        self.queue = queue
    }

    deinit {
        if let current { queue.recycle(current) }
    }

    // MARK: Entries

    /// The next entry, or `nil` at the end of the archive. Skips whatever data of the previous
    /// entry was not read.
    @_spi(Benchmarks) public func next() throws -> TarEntry? {
        try skipData()
        var pax = PAXRecords()
        var longName: [UInt8]?
        var longLink: [UInt8]?
        while true {
            guard let block = try readHeaderBlock() else { return nil }
            guard let format = block.format else {
                throw TarFormatError("invalid tar header: header checksum mismatch")
            }
            let typeflag = block.typeflag
            var size = try block.numeric(124, 12)
            switch typeflag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                let records = try PAXRecords(parsing: try readSpecial(size: size, what: "PAX header"))
                if typeflag == UInt8(ascii: "g") {
                    return globalHeader(name: block.string(0, 100))
                }
                pax = records
                continue
            case UInt8(ascii: "L"):
                longName = Self.cutAtNUL(try readSpecial(size: size, what: "GNU long name"))
                continue
            case UInt8(ascii: "K"):
                longLink = Self.cutAtNUL(try readSpecial(size: size, what: "GNU long link name"))
                continue
            default:
                break
            }

            var nameBytes = block.string(0, 100)
            var prefix: [UInt8] = []
            var accessTime: TarTime?
            switch format {
            case .ustar:
                prefix = block.string(345, 155)
            case .star:
                prefix = block.string(345, 131)
                accessTime = TarTime(seconds: try block.numeric(476, 12))
                // Unused, but Go rejects the header when it does not parse.
                _ = try block.numeric(488, 12)
            case .gnu:
                (accessTime, prefix) = Self.gnuTimes(block)
            case .v7:
                break
            }
            if !prefix.isEmpty { nameBytes = prefix + [UInt8(ascii: "/")] + nameBytes }
            var linkBytes = block.string(157, 100)
            var uid = try block.numeric(108, 8)
            var gid = try block.numeric(116, 8)
            var modificationTime = TarTime(seconds: try block.numeric(136, 12))
            var deviceMajor: Int64 = 0
            var deviceMinor: Int64 = 0
            if format != .v7 {
                deviceMajor = try block.numeric(329, 8)
                deviceMinor = try block.numeric(337, 8)
            }
            var xattrs: [(key: String, value: [UInt8])] = []
            for (key, value) in pax.records {
                if key.hasPrefix("SCHILY.xattr.") {
                    xattrs.append((String(key.dropFirst("SCHILY.xattr.".count)), value))
                    continue
                }
                if key.hasPrefix("GNU.sparse.") {
                    throw UnsupportedEntry("PAX sparse files are not supported")
                }
                // An empty value keeps the header's own field, as Go does.
                if value.isEmpty { continue }
                let text = String(decoding: value, as: UTF8.self)
                switch key {
                case "path": nameBytes = value
                case "linkpath": linkBytes = value
                case "uid": uid = try Self.decimal(text, key)
                case "gid": gid = try Self.decimal(text, key)
                case "size": size = try Self.decimal(text, key)
                case "mtime": modificationTime = try Self.paxTime(text)
                case "atime": accessTime = try Self.paxTime(text)
                default: break
                }
            }
            if let longName { nameBytes = longName }
            if let longLink { linkBytes = longLink }

            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw InvalidName(name: String(decoding: nameBytes, as: UTF8.self))
            }
            guard let linkName = String(validating: linkBytes, as: UTF8.self) else {
                throw InvalidName(name: name)
            }
            let kind = Self.kind(typeflag, name: name)
            guard size >= 0 else { throw TarFormatError("negative size in header of \(name)") }
            let dataSize: Int64 = switch kind {
            case .hardlink, .symlink, .characterDevice, .blockDevice, .directory, .fifo: 0
            default: size
            }
            startData(dataSize)
            return TarEntry(kind: kind, name: name, linkName: linkName,
                            mode: UInt32(truncatingIfNeeded: try block.numeric(100, 8)) & 0o7777,
                            uid: uid, gid: gid, size: dataSize,
                            modificationTime: modificationTime, accessTime: accessTime,
                            deviceMajor: deviceMajor, deviceMinor: deviceMinor, xattrs: xattrs)
        }
    }

    /// Hands the current entry's data to `body` in the pieces the decoder produced, then skips the
    /// padding. A stream that ends first is truncated.
    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        while remainingData > 0 {
            let piece = try contiguous(max: Int(min(remainingData, Int64(Int.max))))
            guard !piece.isEmpty else { throw TarTruncated() }
            remainingData -= Int64(piece.count)
            try body(piece)
        }
        try skipData()
    }

    /// Reads everything after the end-of-archive marker, so that it counts toward the diff_id.
    @_spi(Benchmarks) public func drain() throws {
        while try !contiguous(max: Int.max).isEmpty {}
    }

    // MARK: Stream access

    private func startData(_ size: Int64) {
        remainingData = size
        remainingPadding = Int((TarHeaderBlock.size - Int(size % Int64(TarHeaderBlock.size))) % TarHeaderBlock.size)
    }

    private func skipData() throws {
        while remainingData > 0 {
            let piece = try contiguous(max: Int(min(remainingData, Int64(Int.max))))
            guard !piece.isEmpty else { throw TarTruncated() }
            remainingData -= Int64(piece.count)
        }
        while remainingPadding > 0 {
            let piece = try contiguous(max: remainingPadding)
            guard !piece.isEmpty else { throw TarTruncated() }
            remainingPadding -= piece.count
        }
    }

    /// The header after the current position, or `nil` at a clean end: no more bytes, or two zero
    /// blocks. One zero block followed by anything else is an invalid header, as in Go.
    private func readHeaderBlock() throws -> TarHeaderBlock? {
        guard let first = try readBlock(allowEnd: true) else { return nil }
        if !first.isZero { return first }
        guard let second = try readBlock(allowEnd: true) else { return nil }
        if second.isZero { return nil }
        throw TarFormatError("invalid tar header after a zero block")
    }

    private func readBlock(allowEnd: Bool) throws -> TarHeaderBlock? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(TarHeaderBlock.size)
        while bytes.count < TarHeaderBlock.size {
            let piece = try contiguous(max: TarHeaderBlock.size - bytes.count)
            if piece.isEmpty {
                if bytes.isEmpty && allowEnd { return nil }
                throw TarTruncated()
            }
            bytes.append(contentsOf: piece)
        }
        return TarHeaderBlock(bytes: bytes)
    }

    private func readSpecial(size: Int64, what: String) throws -> [UInt8] {
        guard size >= 0, size <= PAXRecords.maximumSize else {
            throw TarFormatError("\(what) of \(size) bytes is larger than \(PAXRecords.maximumSize)")
        }
        startData(size)
        var data: [UInt8] = []
        data.reserveCapacity(Int(size))
        try readData { data.append(contentsOf: $0) }
        return data
    }

    /// Up to `max` bytes from the current buffer, fetching the next one when it is used up; empty
    /// at the end of the stream. A failed decoder's error is rethrown here.
    private func contiguous(max: Int) throws -> UnsafeRawBufferPointer {
        while true {
            if let buffer = current {
                if offset < buffer.count {
                    let count = min(max, buffer.count - offset)
                    let piece = UnsafeRawBufferPointer(rebasing: buffer.bytes[offset..<(offset + count)])
                    offset += count
                    return piece
                }
                try beforeRecycle()
                current = nil
                queue.recycle(buffer)
            }
            if streamEnded { return UnsafeRawBufferPointer(start: nil, count: 0) }
            switch queue.receive() {
            case .success(let buffer):
                current = buffer
                offset = 0
            case .failure(.finished):
                streamEnded = true
            case .failure(.failed(let error)):
                streamEnded = true
                throw error
            }
        }
    }

    // MARK: Field helpers

    private static func kind(_ typeflag: UInt8, name: String) -> TarEntry.Kind {
        switch typeflag {
        case UInt8(ascii: "0"): .regular
        case 0: name.hasSuffix("/") ? .directory : .regular
        case UInt8(ascii: "1"): .hardlink
        case UInt8(ascii: "2"): .symlink
        case UInt8(ascii: "3"): .characterDevice
        case UInt8(ascii: "4"): .blockDevice
        case UInt8(ascii: "5"): .directory
        case UInt8(ascii: "6"): .fifo
        default: .unsupported(typeflag: typeflag)
        }
    }

    /// A GNU header's access time, and the name prefix it may hold instead. Go wrote a ustar
    /// prefix into GNU headers before 1.8 (golang/go#12594), where the access and change times
    /// belong; Go's reader, and so containerd, therefore reads those times leniently, and when
    /// either does not parse, takes the field as a prefix if it is ASCII and drops the times.
    private static func gnuTimes(_ block: TarHeaderBlock) -> (accessTime: TarTime?, prefix: [UInt8]) {
        do throws(TarFormatError) {
            let access = block.bytes[345] != 0 ? try block.numeric(345, 12) : nil
            if block.bytes[357] != 0 { _ = try block.numeric(357, 12) }
            return (access.map { TarTime(seconds: $0) }, [])
        } catch {
            let prefix = block.string(345, 155)
            return (nil, prefix.allSatisfy { $0 < 0x80 } ? prefix : [])
        }
    }

    private static func cutAtNUL(_ bytes: [UInt8]) -> [UInt8] {
        if let nul = bytes.firstIndex(of: 0) { return Array(bytes[..<nul]) }
        return bytes
    }

    private static func decimal(_ text: String, _ key: String) throws(TarFormatError) -> Int64 {
        guard let value = Int64(text) else { throw TarFormatError("invalid PAX \(key) \(text.debugDescription)") }
        return value
    }

    /// `seconds[.fraction]`, the fraction right-truncated to nanoseconds.
    private static func paxTime(_ text: String) throws(TarFormatError) -> TarTime {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let seconds = Int64(parts[0]) else { throw TarFormatError("invalid PAX time \(text.debugDescription)") }
        guard parts.count == 2, !parts[1].isEmpty else { return TarTime(seconds: seconds) }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw TarFormatError("invalid PAX time \(text.debugDescription)")
        }
        let digits = String(parts[1].prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)
        let nanoseconds = Int64(digits)!
        return TarTime(seconds: seconds, nanoseconds: parts[0].hasPrefix("-") ? -nanoseconds : nanoseconds)
    }

    private func globalHeader(name: [UInt8]) -> TarEntry {
        TarEntry(kind: .globalHeader, name: String(decoding: name, as: UTF8.self), linkName: "", mode: 0,
                 uid: 0, gid: 0, size: 0, modificationTime: TarTime(seconds: 0), accessTime: nil,
                 deviceMajor: 0, deviceMinor: 0, xattrs: [])
    }
}

/// The stream ended inside an entry or header.
struct TarTruncated: Error {}

/// An entry Decant will not apply, with why.
struct UnsupportedEntry: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// An entry name that is not UTF-8.
struct InvalidName: Error {
    var name: String
}
