import Foundation

/// What each registry host asked for (`WWW-Authenticate`) and the bearer tokens obtained for it,
/// cached per realm, service and scope until shortly before they expire.
actor RegistryAuthenticator {
    /// Fetches a token: (challenge, scope, credential) → (token, lifetime).
    typealias TokenFetcher = @Sendable (AuthChallenge, String, RegistryCredential?) async throws -> (String, Duration)

    private struct CachedToken {
        var token: String
        var expires: ContinuousClock.Instant
    }

    private var challenges: [String: AuthChallenge] = [:]
    private var credentials: [String: RegistryCredential] = [:]
    private var tokens: [String: CachedToken] = [:]
    private let fetchToken: TokenFetcher

    init(fetchToken: @escaping TokenFetcher) {
        self.fetchToken = fetchToken
    }

    /// The `Authorization` value for a request to `host`, once the host has challenged; a bearer
    /// token is fetched again when the cached one is about to expire.
    func authorization(host: String, scope: String) async throws -> String? {
        guard let challenge = challenges[host] else { return nil }
        let credential = credentials[host]
        switch challenge.scheme {
        case .basic:
            guard let credential else { return nil }
            return "Basic " + Data("\(credential.username):\(credential.password)".utf8).base64EncodedString()
        case .bearer:
            let key = tokenKey(challenge, scope: scope)
            if let cached = tokens[key], cached.expires > .now { return "Bearer " + cached.token }
            let (token, lifetime) = try await fetchToken(challenge, scope, credential)
            // A margin, so that a token does not expire between being handed out and being checked.
            tokens[key] = CachedToken(token: token, expires: .now + max(lifetime - .seconds(10), lifetime / 2))
            return "Bearer " + token
        }
    }

    /// Records a 401's challenge and the credential to answer it with; the cached token for the
    /// scope is dropped (the registry no longer accepts it).
    func challenged(host: String, by challenge: AuthChallenge, scope: String, credential: RegistryCredential?) {
        if let old = challenges[host], old.scheme == .bearer { tokens[tokenKey(old, scope: scope)] = nil }
        challenges[host] = challenge
        credentials[host] = credential
    }

    private func tokenKey(_ challenge: AuthChallenge, scope: String) -> String {
        "\(challenge.realm ?? "")|\(challenge.service ?? "")|\(scope)"
    }
}
