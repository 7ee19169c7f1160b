import DecantOCI
import Foundation
import Testing

@Suite struct ManifestDocumentTests {
    private let config = #"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(String(repeating: "a", count: 64))","size":2}"#

    /// A well-formed manifest with a wrong value is not called "not valid JSON": the error names
    /// the field and what is wrong with it.
    @Test(arguments: [
        (#""layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:../../etc","size":1}]"#,
         "layers[0].digest: not a sha256 digest: sha256:../../etc"),
        (#""layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\#(String(repeating: "b", count: 64))","size":"1"}]"#,
         "layers[0].size: not an integer"),
        (#""layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":1}]"#, "layers[0].digest: missing"),
        // Sizes make buffers, read limits and ranges: a negative one is refused here.
        (#""layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\#(String(repeating: "b", count: 64))","size":-1}]"#,
         "layers[0].size: a negative size (-1)"),
    ])
    func aWrongFieldIsNamed(_ layers: String, _ expected: String) {
        let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":\#(config),\#(layers)}"#
        do {
            _ = try ManifestDocument.decode(Data(manifest.utf8), mediaType: nil)
            Issue.record("decoded: \(manifest)")
        } catch {
            #expect(error.description.contains("invalid application/vnd.oci.image.manifest.v1+json: " + expected), "\(error)")
            #expect(!error.description.contains("JSON"), "\(error)")
        }
    }

    @Test func aDocumentThatIsNotJSONSaysSo() {
        #expect(throws: OCIError.self) { try ManifestDocument.decode(Data("{\"schemaVersion\":".utf8), mediaType: nil) }
        do {
            _ = try ManifestDocument.decode(Data("{\"schemaVersion\":".utf8), mediaType: nil)
        } catch {
            #expect(error.description.hasPrefix("manifest is not an OCI or Docker manifest or index: not valid JSON"), "\(error)")
        }
    }
}
