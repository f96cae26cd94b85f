import Foundation
import HTTPClient
import RosterCore
import RosterSupport

/// Sends one thread's requests to Clever over its own connection, with the token's shared budget,
/// retries with backoff, and Clever's answers turned into `CleverError`s.
///
/// Retried: 500, 502, 503, 504, timeouts and dropped or refused connections, up to
/// `retryAttempts` tries with full-jitter exponential backoff; 429 waits for the rate reset and does not
/// count as a failed try (at most `maxRateLimitWaits` times). Not retried: 401 and 403 (the token is
/// revoked), other 4xx, 501. A 413 is handed back to the caller, which lowers the page size.
final class CleverRequester {
    let http: HTTPClient
    private let configuration: CleverConfiguration
    private let authorization: String
    private let budget: CleverRateBudget
    private let run: CleverFetchRun?
    private let logger: Logger
    var stats = CleverFetchStats()

    init(
        configuration: CleverConfiguration, authorization: String, budget: CleverRateBudget, run: CleverFetchRun?,
        logger: Logger
    ) throws {
        http = try HTTPClient(configuration: configuration.http)
        self.configuration = configuration
        self.authorization = authorization
        self.budget = budget
        self.run = run
        self.logger = logger
    }

    /// Sends a request to `origin + uri` until it gets an answer worth returning: a 2xx or a 413.
    ///
    /// - Parameters:
    ///   - uri: a host-relative URI starting with `/`.
    ///   - body: a form body to POST, or nil for a GET.
    func send(origin: String, uri: String, body: Data? = nil, contentType: String? = nil) throws -> HTTPResponse {
        let path = String(uri.prefix { $0 != "?" })
        var failures = 0
        var rateWaits = 0
        while true {
            try run?.checkNotStopped()
            try budget.acquire(run)
            stats.requests += 1
            var headers = ["Authorization": authorization, "Accept": "application/json"]
            if let contentType { headers["Content-Type"] = contentType }
            let response: HTTPResponse
            do {
                if let body {
                    response = try http.post(origin + uri, headers: headers, body: body)
                } else {
                    response = try http.get(origin + uri, headers: headers)
                }
            } catch let error as HTTPError {
                guard error.isTransient else {
                    throw CleverError(code: .requestFailed, path: path, message: "\(error)")
                }
                failures += 1
                try backOff(after: failures, path: path, reason: error.code.rawValue, status: nil)
                continue
            }
            budget.observe(response.headers)
            switch response.status {
            case 200..<300, 413:
                return response
            case 429:
                rateWaits += 1
                guard rateWaits <= configuration.maxRateLimitWaits else {
                    throw CleverError(
                        code: .rateLimited, path: path, status: 429,
                        message: "Clever kept answering 429 after \(configuration.maxRateLimitWaits) waits")
                }
                stats.retries += 1
                let until = CleverRateBudget.resetDate(response.headers, fallback: 1)
                logger.debug(
                    "rate limited; waiting for the reset",
                    metadata: ["clever.path": path, "clever.status": "429", "clever.wait": seconds(until)])
                budget.pause(until: until)
            case 401, 403:
                throw CleverError(
                    code: .authorizationRevoked, path: path, status: response.status,
                    message: "Clever refused the token; the district may have revoked the app")
            case 500, 502, 503, 504:
                failures += 1
                try backOff(after: failures, path: path, reason: "server error", status: response.status)
            case 404:
                throw CleverError(
                    code: .requestFailed, path: path, status: 404, message: "Clever has no such resource")
            default:
                throw CleverError(
                    code: .requestFailed, path: path, status: response.status,
                    message: "Clever answered \(response.status): \(CleverRequester.errorText(response.body))")
            }
        }
    }

    /// Sleeps a random time below `base * 2^(failures-1)` (capped), or throws `.unavailable` when the tries
    /// are spent.
    private func backOff(after failures: Int, path: String, reason: String, status: Int?) throws {
        guard failures < configuration.retryAttempts else {
            throw CleverError(
                code: .unavailable, path: path, status: status,
                message: "\(reason) on each of \(configuration.retryAttempts) tries")
        }
        stats.retries += 1
        let ceiling = min(configuration.backoffCap, configuration.backoffBase * pow(2, Double(failures - 1)))
        let wait = Double.random(in: 0...ceiling)
        logger.debug(
            "retrying after a failed request",
            metadata: [
                "clever.path": path, "clever.status": status.map { "\($0)" } ?? reason,
                "clever.attempt": "\(failures + 1)", "clever.wait": String(format: "%.3f", wait),
            ])
        let until = Date().addingTimeInterval(wait)
        if let run {
            try run.sleep(until: until)
        } else {
            Thread.sleep(until: until)
        }
    }

    private func seconds(_ date: Date) -> String {
        String(format: "%.3f", max(0, date.timeIntervalSinceNow))
    }

    /// Clever's `{"error": "..."}` text, which names the problem and never a token; at most 200 characters.
    static func errorText(_ body: Data) -> String {
        struct Failure: Decodable { let error: String }
        guard let failure = try? JSONDecoder().decode(Failure.self, from: body) else { return "no error text" }
        return String(failure.error.prefix(200))
    }
}
