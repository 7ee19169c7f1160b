/// Layer chain identities: `chainID(0) = diffID(0)`, `chainID(i) = sha256(chainID(i-1) + " " + diffID(i))`.
/// A snapshot is committed under its layer's chainID, so identical stacks share snapshots.
public enum ChainID {
    public static func chain(_ diffIDs: [Digest]) -> [Digest] {
        var result: [Digest] = []
        for diffID in diffIDs {
            guard let previous = result.last else {
                result.append(diffID)
                continue
            }
            result.append(Digest.sha256(of: Array("\(previous) \(diffID)".utf8)))
        }
        return result
    }
}
