import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A response whose status Decant accepts, its body not yet read.
struct RegistryResponse: Sendable {
    var response: HTTPClientResponse
    /// Where the bytes came from in the end (after redirects), for messages.
    var url: String
    var endpoint: RegistryEndpoint
}

/// The distribution API for one repository: mirrors then upstream, authentication, retries with
/// backoff, redirects (credentials never follow them to another host), and Docker's HTTPS-then-HTTP
/// rule for loopback hosts.
final class RegistryClient: Sendable {
    let image: ImageReference
    let endpoints: [RegistryEndpoint]
    let options: RegistryOptions
    let logger: Logger
    private let http: HTTPClient
    private let authenticator: RegistryAuthenticator
    /// Loopback hosts that turned out to speak plain HTTP.
    private let plainHosts = Mutex<Set<String>>([])

    var scope: String { "repository:\(image.repository):pull" }

    init(image: ImageReference, options: RegistryOptions, logger: Logger) throws(RemoteError) {
        self.image = image
        self.options = options
        self.logger = logger
        self.endpoints = try options.hosts.endpoints(for: image.domain)
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: Self.httpConfiguration())
        self.http = http
        let userAgent = options.userAgent
        let tlsFor = { @Sendable (host: String) in Self.tls(caFiles: options.hosts.caFiles, skipVerify: options.hosts.skipVerify) }
        let attempts = options.maxAttempts
        let backoff = options.initialBackoff
        self.authenticator = RegistryAuthenticator { challenge, scope, credential in
            try await Self.fetchToken(http: http, challenge: challenge, scope: scope, credential: credential,
                                      userAgent: userAgent, tls: tlsFor, attempts: attempts, backoff: backoff, logger: logger)
        }
    }

    /// How the client's connections are made and used.
    static func httpConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        // Redirects are followed by hand: AsyncHTTPClient would forward the Authorization header.
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(15))
        configuration.decompression = .disabled
        // Failed connections surface at once and go through this client's own retries, which
        // know about backoff, mirrors and the loopback HTTP fallback.
        configuration.connectionPool.retryConnectionEstablishment = false
        // AsyncHTTPClient has no setting for how much a connection reads at once; its connection
        // initializers are where a connection's channel can be configured.
        configuration.http1_1ConnectionDebugInitializer = { RegistryConnectionReads.configure($0) }
        configuration.http2ConnectionDebugInitializer = { RegistryConnectionReads.configure($0) }
        return configuration
    }

    /// Where a blob transfer runs: one of the client's event loops, taken in turn.
    func transferExecutor() -> EventLoopTaskExecutor {
        EventLoopTaskExecutor(http.eventLoopGroup.next())
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// Sends `method` for `path` (below `/v2`) to every endpoint with `capability` in turn, mirrors
    /// first; an endpoint that answers 404 or cannot be reached hands over to the next.
    func send(_ method: HTTPMethod, _ path: String, capability: RegistryEndpoint.Capability, headers: HTTPHeaders = [:],
              rangeStart: Int64? = nil, deadline: NIODeadline = .now() + .seconds(120), headTimeout: Duration? = nil,
              what: String) async throws -> RegistryResponse {
        var failures: [String] = []
        var lastError: RemoteError?
        for endpoint in endpoints where endpoint.capabilities.contains(capability) {
            do {
                return try await send(method, path, to: endpoint, headers: headers, rangeStart: rangeStart, deadline: deadline,
                                      headTimeout: headTimeout, what: what)
            } catch let error as RemoteError where error.code == .notFound || (endpoint.isMirror && error.code == .unavailable) {
                failures.append("\(endpoint): \(error.message)")
                lastError = error
                if endpoint.isMirror { logger.info("\(what) not on \(endpoint): \(error.message); trying the next host") }
            }
        }
        guard let lastError else {
            throw RemoteError(.notFound, "\(image.domain): no host configured with the \(capability) capability")
        }
        throw RemoteError(lastError.code, failures.count == 1 ? lastError.message : failures.joined(separator: "; "))
    }

    /// One endpoint: authentication on 401, retries on connection errors, 429 and 5xx, redirects.
    /// `headTimeout`: how long each attempt (and each redirect hop) may wait for the response
    /// head before it counts as a connection error, within `deadline` (which bounds them all):
    /// a server that accepts the connection and never answers is tried again, not waited on.
    func send(_ method: HTTPMethod, _ path: String, to endpoint: RegistryEndpoint, headers: HTTPHeaders,
              rangeStart: Int64?, deadline: NIODeadline, headTimeout: Duration? = nil, what: String) async throws -> RegistryResponse {
        func headDeadline() -> NIODeadline {
            guard let headTimeout else { return deadline }
            return min(deadline, .now() + .nanoseconds(Int64(headTimeout / .nanoseconds(1))))
        }
        var attempt = 1
        var answeredChallenge = false
        while true {
            let scheme = plainHosts.withLock { $0.contains(endpoint.host) } ? "http" : endpoint.scheme
            var url = "\(scheme)://\(endpoint.host)\(endpoint.apiPath)\(path)"
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers = headers
            request.headers.replaceOrAdd(name: "User-Agent", value: options.userAgent)
            for (name, values) in endpoint.headers { for value in values { request.headers.add(name: name, value: value) } }
            if let rangeStart { request.headers.replaceOrAdd(name: "Range", value: "bytes=\(rangeStart)-") }
            request.tlsConfiguration = Self.tls(caFiles: endpoint.caFiles, skipVerify: endpoint.skipVerify)
            do {
                if let authorization = try await authenticator.authorization(host: endpoint.host, scope: scope) {
                    request.headers.replaceOrAdd(name: "Authorization", value: authorization)
                }
                var response = try await execute(request, deadline: headDeadline(), headTimeout: headTimeout)
                // Redirects, typically to object storage: the Authorization header goes only
                // where the request went first, compared with every hop (a second hop on the
                // storage host is not the registry), and never from HTTPS down to HTTP.
                let origin = URL(string: url)
                var redirects = 0
                while [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "Location") {
                    redirects += 1
                    guard redirects <= 10, let next = URL(string: location, relativeTo: URL(string: url))?.absoluteURL else {
                        throw RemoteError(.io, "\(what): too many or invalid redirects from \(url)")
                    }
                    let sameHost = Self.sameOrigin(next, origin)
                    url = next.absoluteString
                    var follow = HTTPClientRequest(url: url)
                    follow.method = method == .HEAD ? .HEAD : .GET
                    follow.headers = headers
                    follow.headers.replaceOrAdd(name: "User-Agent", value: options.userAgent)
                    if let rangeStart { follow.headers.replaceOrAdd(name: "Range", value: "bytes=\(rangeStart)-") }
                    if sameHost, let authorization = request.headers.first(name: "Authorization") {
                        follow.headers.replaceOrAdd(name: "Authorization", value: authorization)
                    }
                    follow.tlsConfiguration = sameHost ? request.tlsConfiguration
                        : Self.tls(caFiles: options.hosts.caFiles, skipVerify: options.hosts.skipVerify)
                    logger.debug("\(what): redirected to \(next.host ?? "?")")
                    response = try await execute(follow, deadline: headDeadline(), headTimeout: headTimeout)
                }
                switch response.status.code {
                case 200..<300:
                    return RegistryResponse(response: response, url: url, endpoint: endpoint)
                case 401:
                    let header = response.headers.first(name: "WWW-Authenticate")
                    let body = await Self.errorMessage(response)
                    guard !answeredChallenge, let header, let challenge = AuthChallenge(header: header) else {
                        throw RemoteError(.unauthorized, unauthorizedMessage(endpoint: endpoint, what: what, detail: body))
                    }
                    answeredChallenge = true
                    let credential = try options.credentials.credential(host: endpoint.host, domain: image.domain)
                    if challenge.scheme == .basic && credential == nil {
                        throw RemoteError(.unauthorized, unauthorizedMessage(endpoint: endpoint, what: what, detail: body))
                    }
                    await authenticator.challenged(host: endpoint.host, by: challenge, scope: scope, credential: credential)
                    continue
                case 403:
                    throw RemoteError(.unauthorized, "\(endpoint.host) denied access to \(image.repository) (403 Forbidden) for \(what): \(await Self.errorMessage(response))")
                case 404:
                    throw RemoteError(.notFound, "\(what) not found at \(endpoint.host) (404): \(await Self.errorMessage(response))")
                case 416 where rangeStart != nil:
                    // Asked for the rest of a blob whose body had ended: there is no rest.
                    throw RemoteError(.digestMismatch, "\(what): \(endpoint.host) has nothing from byte \(rangeStart ?? 0) on (416 Range Not Satisfiable): the blob is shorter than its descriptor says (size mismatch)")
                case 429, 500..<600:
                    let detail = "\(response.status.code) \(response.status.reasonPhrase)"
                    guard attempt < options.maxAttempts else {
                        throw RemoteError(.unavailable, "\(what): \(endpoint.host) answered \(detail) \(attempt) times")
                    }
                    let wait = Self.retryAfter(response.headers) ?? backoff(attempt)
                    logger.info("\(what): \(endpoint.host) answered \(detail); retry \(attempt) in \(wait)")
                    attempt += 1
                    try await Task.sleep(for: wait)
                default:
                    throw RemoteError(.io, "\(what): \(endpoint.host) answered \(response.status.code) \(response.status.reasonPhrase): \(await Self.errorMessage(response))")
                }
            } catch let error as RemoteError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if scheme == "https" && endpoint.allowsHTTPFallback && attempt == 1 && !plainHosts.withLock({ $0.contains(endpoint.host) }) {
                    if plainHosts.withLock({ $0.insert(endpoint.host).inserted }) {
                        logger.info("\(endpoint.host) does not speak HTTPS (\(Self.describe(error))); it is a loopback host, so trying plain HTTP")
                    }
                    continue
                }
                guard attempt < options.maxAttempts else {
                    throw RemoteError(.unavailable, "\(what): cannot reach \(endpoint.host) after \(attempt) attempts: \(Self.describe(error))")
                }
                logger.info("\(what): \(endpoint.host): \(Self.describe(error)); retry \(attempt) in \(backoff(attempt))")
                try await Task.sleep(for: backoff(attempt))
                attempt += 1
            }
        }
    }

    /// `http.execute`, saying which wait ran out when the head did not come within `headTimeout`.
    private func execute(_ request: HTTPClientRequest, deadline: NIODeadline, headTimeout: Duration?) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, deadline: deadline, logger: logger)
        } catch let error as HTTPClientError where error == .deadlineExceeded && headTimeout != nil {
            throw HeadTimeout(timeout: headTimeout ?? .zero)
        }
    }

    /// No response head within the time a transfer may go without a byte.
    struct HeadTimeout: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "no response for \(timeout)" }
    }

    /// Whether plain HTTP is in use for `host` (after the loopback fallback).
    func usesPlainHTTP(_ endpoint: RegistryEndpoint) -> Bool {
        endpoint.scheme == "http" || plainHosts.withLock { $0.contains(endpoint.host) }
    }

    func backoff(_ attempt: Int) -> Duration {
        Self.backoff(attempt, initial: options.initialBackoff)
    }

    static func backoff(_ attempt: Int, initial: Duration) -> Duration {
        let exponential = initial * (1 << min(attempt - 1, 16))
        let capped = min(exponential, .seconds(10))
        // Jitter spreads the retries of many nodes hitting one registry.
        return capped * Double.random(in: 0.75...1.25)
    }

    private func unauthorizedMessage(endpoint: RegistryEndpoint, what: String, detail: String) -> String {
        let hasCredential = (try? options.credentials.credential(host: endpoint.host, domain: image.domain)) != nil
        let hint = hasCredential ? "the credentials for \(endpoint.host) were refused"
            : "no credentials for \(endpoint.host): pass --user USER:PASSWORD or run docker login \(endpoint.host)"
        return "\(endpoint.host) refused \(what) of \(image.repository) (401 Unauthorized): \(hint)" + (detail.isEmpty ? "" : " (\(detail))")
    }

    /// Whether `url` has `origin`'s scheme, host and port (the scheme's default port when none
    /// is given), as browsers compare origins.
    static func sameOrigin(_ url: URL, _ origin: URL?) -> Bool {
        guard let origin, let scheme = url.scheme?.lowercased(), scheme == origin.scheme?.lowercased() else { return false }
        func port(_ url: URL) -> Int? { url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil) }
        return url.host?.lowercased() == origin.host?.lowercased() && port(url) == port(origin)
    }

    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let value = headers.first(name: "Retry-After"), let seconds = Int(value), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 60))
    }

    static func tls(caFiles: [String], skipVerify: Bool) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !caFiles.isEmpty { tls.additionalTrustRoots = caFiles.map { .file($0) } }
        if skipVerify { tls.certificateVerification = .none }
        return tls
    }

    /// The registry's own error text (`{"errors":[{"code":…,"message":…}]}`), or the status.
    static func errorMessage(_ response: HTTPClientResponse) async -> String {
        struct Errors: Decodable {
            struct Item: Decodable {
                var code: String?
                var message: String?
            }

            var errors: [Item]
        }
        guard let body = try? await response.body.collect(upTo: 64 * 1024),
              let errors = try? JSONDecoder().decode(Errors.self, from: Data(body.readableBytesView)), !errors.errors.isEmpty else {
            return "\(response.status.code) \(response.status.reasonPhrase)"
        }
        return errors.errors.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        return "\(error)"
    }

    /// GET `realm?service=…&scope=…`, with the credential as Basic authentication when there is one.
    private static func fetchToken(http: HTTPClient, challenge: AuthChallenge, scope: String, credential: RegistryCredential?,
                                   userAgent: String, tls: @Sendable (String) -> TLSConfiguration, attempts: Int,
                                   backoff initial: Duration, logger: Logger) async throws -> (String, Duration) {
        guard let realm = challenge.realm, var components = URLComponents(string: realm) else {
            throw RemoteError(.unauthorized, "the registry's bearer challenge has no usable realm: \(challenge.parameters)")
        }
        var query = components.queryItems ?? []
        if let service = challenge.service { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: scope))
        components.queryItems = query
        guard let url = components.url?.absoluteString else {
            throw RemoteError(.unauthorized, "cannot build a token request from realm \(realm)")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: userAgent)
        if let credential {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(credential.username):\(credential.password)".utf8).base64EncodedString())
        }
        request.tlsConfiguration = tls(components.host ?? "")
        var attempt = 1
        while true {
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: .seconds(60), logger: logger)
            } catch {
                guard attempt < attempts else {
                    throw RemoteError(.unavailable, "cannot reach the token service \(realm) after \(attempt) attempts: \(describe(error))")
                }
                try await Task.sleep(for: backoff(attempt, initial: initial))
                attempt += 1
                continue
            }
            switch response.status.code {
            case 200:
                struct TokenAnswer: Decodable {
                    var token: String?
                    var access_token: String?
                    var expires_in: Int?
                }
                let body = try await response.body.collect(upTo: 1 << 20)
                guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(body.readableBytesView)),
                      let token = answer.token ?? answer.access_token else {
                    throw RemoteError(.unauthorized, "the token service \(realm) answered without a token")
                }
                // The distribution spec's default lifetime is 60 s.
                return (token, .seconds(max(answer.expires_in ?? 60, 1)))
            case 401, 403:
                let who = credential.map { "the credentials of \($0.username)" } ?? "anonymous access"
                throw RemoteError(.unauthorized,
                                  "the token service \(realm) refused \(who) for \(scope) (\(response.status.code)): \(await errorMessage(response))")
            case 429, 500..<600:
                guard attempt < attempts else {
                    throw RemoteError(.unavailable, "the token service \(realm) answered \(response.status.code) \(response.status.reasonPhrase) \(attempt) times")
                }
                try await Task.sleep(for: retryAfter(response.headers) ?? backoff(attempt, initial: initial))
                attempt += 1
            default:
                throw RemoteError(.unavailable, "the token service \(realm) answered \(response.status.code) \(response.status.reasonPhrase)")
            }
        }
    }
}
