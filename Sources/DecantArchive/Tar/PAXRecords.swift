/// The records of a PAX extended header (`x`), parsed with Go `archive/tar`'s rules.
struct PAXRecords {
    /// Records in archive order; a later record for a key replaces an earlier one.
    private(set) var records: [(key: String, value: [UInt8])] = []

    /// Largest PAX or GNU long-name payload accepted, as Go's `maxSpecialFileSize`.
    static let maximumSize = 1 << 20

    init() {}

    /// Parses `length key=value\n` records; any malformed record is an error.
    init(parsing data: [UInt8]) throws(TarFormatError) {
        var rest = data[...]
        while !rest.isEmpty {
            guard let space = rest.firstIndex(of: UInt8(ascii: " ")) else {
                throw TarFormatError("malformed PAX record: no length")
            }
            let lengthText = rest[rest.startIndex..<space]
            guard !lengthText.isEmpty, lengthText.allSatisfy({ (0x30...0x39).contains($0) }),
                  let length = Int(String(decoding: lengthText, as: UTF8.self)),
                  length >= 5, length <= rest.count, length > lengthText.count + 1
            else { throw TarFormatError("malformed PAX record length") }
            let record = rest[rest.startIndex..<(rest.startIndex + length)]
            guard record.last == UInt8(ascii: "\n") else { throw TarFormatError("malformed PAX record: no newline") }
            let body = record[(space + 1)..<(record.endIndex - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")) else {
                throw TarFormatError("malformed PAX record: no '='")
            }
            let keyBytes = body[body.startIndex..<equals]
            let value = Array(body[(equals + 1)...])
            let key = String(decoding: keyBytes, as: UTF8.self)
            let nulForbidden = ["path", "linkpath", "uname", "gname"].contains(key) ? value.contains(0) : keyBytes.contains(0)
            guard !nulForbidden else { throw TarFormatError("PAX record \(key) holds a NUL byte") }
            records.removeAll { $0.key == key }
            records.append((key, value))
            rest = rest[(rest.startIndex + length)...]
        }
    }

    subscript(key: String) -> [UInt8]? {
        records.last { $0.key == key }?.value
    }
}
