/// Why a pull failed: the image, the layer (when one is to blame) and the cause in words.
///
/// When this is thrown the store holds no active snapshot of the pull and every committed
/// snapshot and every other image is as it was.
public struct PullError: Error, Sendable, CustomStringConvertible {
    public var image: String
    /// The layer's digest, when the failure concerns one.
    public var layer: String?
    public var message: String
    /// A stable code for scripts: the store's, the source's or the applier's.
    public var code: String

    public init(image: String, layer: String? = nil, code: String, message: String) {
        self.image = image
        self.layer = layer
        self.code = code
        self.message = message
    }

    public var description: String {
        var text = "pull \(image)"
        if let layer { text += ": layer \(layer)" }
        return text + ": " + message
    }
}
