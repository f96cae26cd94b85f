/// A failure reading Clever. The description names the request's path and HTTP status, never a token
/// and never a record's contents, so it is safe to show an operator.
public struct CleverError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Clever answered 401 or 403: the district revoked the app, or the token is wrong. Not retried.
        case authorizationRevoked
        /// The app's client id or secret was refused by Clever's OAuth endpoint.
        case invalidCredentials
        /// 429 answers went on past the allowed number of waits.
        case rateLimited
        /// 5xx answers, timeouts or dropped connections outlasted every retry.
        case unavailable
        /// A 2xx answer whose body is not what the API documents.
        case malformedResponse
        /// Any other failed request: a 404 on a list, a 400, a 501, a TLS failure.
        case requestFailed
        /// The fetch was stopped because the caller or another part of the fetch failed.
        case cancelled
    }

    public let code: Code
    /// The path asked for, such as `/v3.0/users`, without query or host.
    public let path: String?
    /// The HTTP status, when an answer came.
    public let status: Int?
    public let message: String

    public init(code: Code, path: String? = nil, status: Int? = nil, message: String) {
        self.code = code
        self.path = path
        self.status = status
        self.message = message
    }

    public var description: String {
        var text = "clever \(code.rawValue): \(message)"
        if let path { text += " (\(path)" + (status.map { ", HTTP \($0))" } ?? ")") }
        return text
    }

    /// True when trying the whole fetch again later may succeed: Clever was unavailable or kept
    /// rate-limiting. A revoked token, bad credentials or a malformed answer need a person.
    public var isTransient: Bool {
        switch code {
        case .unavailable, .rateLimited: return true
        case .authorizationRevoked, .invalidCredentials, .malformedResponse, .requestFailed, .cancelled: return false
        }
    }
}
