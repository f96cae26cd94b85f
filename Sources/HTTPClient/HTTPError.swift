import CCurl

/// A transfer that failed below HTTP: no connection, a timeout, a cut-off body, a TLS failure.
///
/// The one place where libcurl's `CURLcode`s become Swift errors. An HTTP answer of any status is not an
/// `HTTPError`; callers read `HTTPResponse.status`. `description` carries curl's own message and the
/// code, never request headers, so a bearer token cannot leak through it.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The connect timeout or the total timeout passed.
        case timeout
        /// The host could not be resolved or refused the connection.
        case connectionFailed
        /// The connection broke after the request went out: a partial body, a reset, an empty reply.
        case connectionDropped
        /// The TLS handshake or the certificate check failed.
        case tls
        /// Anything else, such as a malformed URL; `curlCode` says what.
        case other
    }

    public let code: Code
    /// libcurl's `CURLcode`, such as 28 for a timeout.
    public let curlCode: Int32
    public let message: String

    public init(code: Code, curlCode: Int32, message: String) {
        self.code = code
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String {
        "http \(code.rawValue) (curl \(curlCode)): \(message)"
    }

    /// True when the same request may succeed if sent again: timeouts, refused or dropped connections.
    /// TLS failures and malformed requests will not fix themselves.
    public var isTransient: Bool {
        switch code {
        case .timeout, .connectionFailed, .connectionDropped: return true
        case .tls, .other: return false
        }
    }

    /// Maps a failed `curl_easy_perform` (or setup call) to an error.
    ///
    /// - Parameter detail: the text of `CURLOPT_ERRORBUFFER`, when curl wrote one.
    static func from(_ result: CURLcode, detail: String) -> HTTPError {
        let text = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
        return HTTPError(code: code(of: result), curlCode: Int32(result.rawValue), message: text)
    }

    static func code(of result: CURLcode) -> Code {
        switch result {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectionFailed
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2,
            CURLE_HTTP2_STREAM:
            return .connectionDropped
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return .tls
        default:
            return .other
        }
    }
}
