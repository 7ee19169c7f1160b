import DecantArchive
import DecantIO
import DecantOCI
import Foundation
import SystemPackage

/// Applies a fixture blob the way the tests need it.
func applyLayer(_ blob: URL, mediaType: String?, into directory: URL, whiteouts: WhiteoutMode,
                gzip: GzipImplementation = .isal, io: FileIOBackend = .syscalls,
                bufferSize: Int = 1 << 20, bufferCount: Int = 4, writeback: EarlyWriteback? = nil) throws -> LayerApplyResult {
    let options = ApplyOptions(layerName: blob.lastPathComponent, mediaType: mediaType.map { MediaType($0) },
                               whiteouts: whiteouts, gzip: gzip, io: io,
                               bufferSize: bufferSize, bufferCount: bufferCount, writeback: writeback)
    let source = try FileByteSource(path: FilePath(blob.path))
    return try LayerApplier.apply(from: source, into: FilePath(directory.path), options: options)
}
