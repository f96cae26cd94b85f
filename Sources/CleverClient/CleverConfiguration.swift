import Foundation
import HTTPClient
import RosterSupport

/// How to reach Clever and how hard to press it. Read once at start-up with `read(_:)`.
public struct CleverConfiguration: Sendable {
    /// The Data API's origin. Defaults to `https://api.clever.com` (`--clever-url`,
    /// `ROSTERSYNC_CLEVER_URL`).
    public var apiURL = "https://api.clever.com"
    /// The OAuth origin. Defaults to `https://clever.com` (`--clever-oauth-url`,
    /// `ROSTERSYNC_CLEVER_OAUTH_URL`).
    public var oauthURL = "https://clever.com"
    /// The app's client id (`ROSTERSYNC_CLEVER_CLIENT_ID`); needed only for district discovery and sign-in.
    public var clientID: String?
    /// The app's client secret (`ROSTERSYNC_CLEVER_CLIENT_SECRET`); environment only, so it never shows
    /// in a process list.
    public var clientSecret: String?
    /// Records asked for per page. Defaults to 10,000, Clever's maximum; a larger value is halved when
    /// Clever answers 413 (`--clever-page-size`).
    public var pageSize = 10_000
    /// Requests in flight at once for one district, each on its own thread and connection. Defaults to 4
    /// (`--clever-connections`).
    public var maxConnections = 4
    /// Decoded pages waiting for the consumer before fetching pauses. Defaults to 4: a page of 10,000
    /// users is tens of megabytes once decoded, and the database, not the fetch, is the slower side, so
    /// more pages in waiting only cost memory (8 put a million-student sync at 510 MB).
    public var maxBufferedPages = 4
    /// Tries per request for 5xx answers, timeouts and dropped connections, the first included.
    /// Defaults to 5 (`--clever-retries`).
    public var retryAttempts = 5
    /// Seconds of the first backoff; each retry doubles the ceiling, and the wait is drawn uniformly
    /// below it (full jitter). Defaults to 0.5 seconds.
    public var backoffBase = 0.5
    /// The largest backoff ceiling, in seconds. Defaults to 30 seconds.
    public var backoffCap = 30.0
    /// Requests per minute per token, shared by all of the token's threads. Defaults to 1,200, Clever's
    /// limit (`--clever-requests-per-minute`).
    public var requestsPerMinute = 1_200
    /// 429 answers one request may wait out before the fetch fails with `.rateLimited`. Defaults to 20.
    public var maxRateLimitWaits = 20
    /// With at least this many schools, students and sections are read school by school, several cursors
    /// at once; below it, one district-wide cursor each. Defaults to 2.
    public var schoolSplitMinimum = 2
    /// With more schools than this, students and sections are read district-wide again: each school costs
    /// at least two requests of the token's 1,200 a minute, so a district of 1,600 schools would spend
    /// nearly three minutes on the budget alone, where district-wide pages of 10,000 need a few dozen
    /// requests. Defaults to 64.
    public var schoolSplitMaximum = 64
    /// Connect and request timeouts. Defaults to 10 s to connect and 120 s per request.
    public var http = HTTPClient.Configuration(connectTimeout: 10, timeout: 120)

    public init() {}

    /// Reads the flags and environment variables named on each field, and checks them.
    ///
    /// - Throws: `UsageError` naming the bad value.
    public static func read(_ arguments: inout Arguments) throws -> CleverConfiguration {
        var configuration = CleverConfiguration()
        if let url = arguments.string("clever-url", env: "ROSTERSYNC_CLEVER_URL") {
            configuration.apiURL = try origin(url, flag: "clever-url")
        }
        if let url = arguments.string("clever-oauth-url", env: "ROSTERSYNC_CLEVER_OAUTH_URL") {
            configuration.oauthURL = try origin(url, flag: "clever-oauth-url")
        }
        configuration.clientID = arguments.environment["ROSTERSYNC_CLEVER_CLIENT_ID"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.clientSecret = arguments.environment["ROSTERSYNC_CLEVER_CLIENT_SECRET"].flatMap {
            $0.isEmpty ? nil : $0
        }
        configuration.pageSize = try positive(&arguments, "clever-page-size", configuration.pageSize)
        configuration.maxConnections = try positive(&arguments, "clever-connections", configuration.maxConnections)
        configuration.maxBufferedPages = try positive(
            &arguments, "clever-buffered-pages", configuration.maxBufferedPages)
        configuration.retryAttempts = try positive(&arguments, "clever-retries", configuration.retryAttempts)
        configuration.requestsPerMinute = try positive(
            &arguments, "clever-requests-per-minute", configuration.requestsPerMinute)
        return configuration
    }

    private static func positive(_ arguments: inout Arguments, _ name: String, _ fallback: Int) throws -> Int {
        let value = try arguments.int(name, default: fallback) ?? fallback
        guard value >= 1 else { throw UsageError("--\(name) must be at least 1, not \(value)") }
        return value
    }

    private static func origin(_ text: String, flag: String) throws -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "http" || scheme == "https", components.host?.isEmpty == false
        else {
            throw UsageError("--\(flag) must be an http or https URL such as https://api.clever.com, not '\(text)'")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}
