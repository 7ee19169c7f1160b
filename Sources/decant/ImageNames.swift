import DecantRemote
import DecantStore

/// Registry images are recorded under their normalized reference (`docker.io/library/alpine:latest`);
/// the image commands also accept the short form a user pulled them by (`alpine`).
enum ImageNames {
    static func recorded(_ name: String, in store: Store) -> String {
        if (try? store.images.get(name)) != nil { return name }
        guard !name.hasPrefix("oci:"), !name.hasPrefix("oci-archive:"), !name.hasPrefix("docker-archive:"),
              let normalized = try? ImageReference(parsing: name).description,
              (try? store.images.get(normalized)) != nil else { return name }
        return normalized
    }
}
