import DecantOCI
import Testing

@Suite struct DigestTests {
    @Test func parsesAndPrintsSHA256() throws {
        let text = "sha256:" + String(repeating: "ab", count: 32)
        let digest = try #require(Digest(text))
        #expect(digest.algorithm == "sha256")
        #expect(digest.description == text)
    }

    @Test(arguments: [
        "sha256:" + String(repeating: "A", count: 64),  // uppercase hex
        "sha256:" + String(repeating: "a", count: 63),  // short
        "sha512:" + String(repeating: "a", count: 64),  // other algorithm
        String(repeating: "a", count: 64),  // no algorithm
        "sha256:" + String(repeating: "g", count: 64),  // not hex
    ])
    func rejectsMalformed(_ text: String) {
        #expect(Digest(text) == nil)
    }

    @Test func hashesBytes() {
        // sha256("abc"), from FIPS 180-2.
        #expect(Digest.sha256(of: Array("abc".utf8)).description
            == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite struct CompressionTests {
    @Test func detectsFromMagic() {
        #expect(Compression.detect(magic: [0x1F, 0x8B, 0x08, 0x00]) == .gzip)
        #expect(Compression.detect(magic: [0x28, 0xB5, 0x2F, 0xFD]) == .zstd)
        #expect(Compression.detect(magic: Array("usr/".utf8)) == Compression.none)
        #expect(Compression.detect(magic: [0x1F]) == Compression.none)
    }

    @Test func mediaTypesAdmitOnlyTheirCompression() {
        #expect(MediaType.ociLayerGzip.admits(.gzip))
        #expect(!MediaType.ociLayerGzip.admits(.zstd))
        #expect(!MediaType.ociLayer.admits(.gzip))
        #expect(MediaType.ociLayerZstd.admits(.zstd))
        #expect(MediaType.dockerLayerGzip.admits(.gzip))
        #expect(MediaType.dockerLayer.admits(.gzip))
        #expect(MediaType("application/json").declaredLayerCompression == nil)
    }
}
