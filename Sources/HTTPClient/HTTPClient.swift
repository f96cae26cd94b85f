import CCurl
import Foundation

/// A blocking HTTP client over one libcurl easy handle.
///
/// Keep one client per thread and reuse it: the handle keeps its connections open between requests
/// (keep-alive), so a run of pages to one host costs one TCP and TLS handshake. A client must not be
/// used from two threads at once, and never from a Swift concurrency task, since every call blocks.
/// TLS peer and host verification stay on; there is no switch to turn them off.
public final class HTTPClient {
    /// Settings of a client. Times are in seconds.
    public struct Configuration: Sendable {
        /// Longest wait for the TCP (and TLS) connection to be set up. Defaults to 10 seconds.
        public var connectTimeout: Double
        /// Longest time one whole request may take, body included. Defaults to 120 seconds.
        public var timeout: Double
        /// The `User-Agent` header. Defaults to `rostersync`.
        public var userAgent: String

        public init(connectTimeout: Double = 10, timeout: Double = 120, userAgent: String = "rostersync") {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.userAgent = userAgent
        }
    }

    public let configuration: Configuration
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// TCP connections opened over the client's life; 1 after many requests to one host means reuse.
    public private(set) var connectionsOpened = 0

    /// - Throws: `HTTPError` with code `.other` when libcurl cannot make a handle.
    public init(configuration: Configuration = Configuration()) throws {
        HTTPClient.initializeCurlOnce()
        guard let handle = curl_easy_init() else {
            throw HTTPError(code: .other, curlCode: Int32(CURLE_FAILED_INIT.rawValue), message: "curl_easy_init failed")
        }
        self.handle = handle
        self.configuration = configuration
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Sends a GET.
    ///
    /// - Parameters:
    ///   - url: an absolute `http` or `https` URL.
    ///   - headers: request headers, such as `Authorization`.
    /// - Returns: the answer, whatever its status.
    /// - Throws: `HTTPError` when no complete answer arrived.
    public func get(_ url: String, headers: [String: String] = [:]) throws -> HTTPResponse {
        try perform(url: url, headers: headers, body: nil)
    }

    /// Sends a POST with `body` as it is; set `Content-Type` in `headers`.
    public func post(_ url: String, headers: [String: String] = [:], body: Data) throws -> HTTPResponse {
        try perform(url: url, headers: headers, body: body)
    }

    private func perform(url: String, headers: [String: String], body: Data?) throws -> HTTPResponse {
        let collector = ResponseCollector()
        let context = Unmanaged.passRetained(collector)
        defer { context.release() }

        var list: UnsafeMutablePointer<curl_slist>?
        // An empty `Expect:` stops curl from waiting for `100 Continue` before sending a POST body.
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) + [("Expect", "")] {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        defer { curl_slist_free_all(list) }

        errorBuffer[0] = 0
        try configure(url: url, headers: list, body: body, context: context.toOpaque())
        let result = curl_easy_perform(handle)
        // The header list and the collector must not outlive this call inside the handle.
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, nil)
        _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, nil)
        var connects = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        connectionsOpened += connects
        guard result == CURLE_OK else {
            throw HTTPError.from(result, detail: String(cString: errorBuffer))
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: collector.headers, body: collector.body)
    }

    private func configure(
        url: String, headers: UnsafeMutablePointer<curl_slist>?, body: Data?, context: UnsafeMutableRawPointer
    ) throws {
        try check(ccurl_setopt_string(handle, CURLOPT_URL, url))
        try check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(configuration.connectTimeout)))
        try check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(configuration.timeout)))
        try check(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
        try check(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
        try check(ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        try check(ccurl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent))
        // An empty string asks for every encoding curl can decode (gzip, deflate, br).
        try check(ccurl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""))
        try check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers))
        try check(ccurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, ResponseCollector.bodyCallback))
        try check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        try check(ccurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, ResponseCollector.headerCallback))
        try check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        if let body {
            try check(ccurl_setopt_long(handle, CURLOPT_POST, 1))
            try check(ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count))
            // COPYPOSTFIELDS copies the bytes, so they need not outlive this call.
            // POSTFIELDSIZE is set first, so bytes after a NUL are sent too.
            var bytes = [UInt8](body)
            bytes.append(0)
            try bytes.withUnsafeMutableBytes { buffer in
                try check(ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, buffer.baseAddress))
            }
        } else {
            try check(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        }
    }

    private func check(_ result: CURLcode) throws {
        guard result == CURLE_OK else { throw HTTPError.from(result, detail: "") }
    }

    private func milliseconds(_ seconds: Double) -> Int {
        max(1, Int((seconds * 1000).rounded()))
    }

    /// `curl_global_init` is not thread-safe and must run before any handle exists; a global `let`
    /// initializer runs exactly once, under a lock, on first use.
    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    static func initializeCurlOnce() {
        _ = globalInit
    }
}

/// Gathers one answer's headers and body from libcurl's callbacks.
private final class ResponseCollector {
    var headers = HTTPHeaders()
    var body = Data()

    static let bodyCallback: ccurl_data_callback = { data, size, count, context in
        let length = size * count
        guard let context, let data else { return length }
        let collector = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
        collector.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length)
        return length
    }

    static let headerCallback: ccurl_data_callback = { data, size, count, context in
        let length = size * count
        guard let context, let data else { return length }
        let collector = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            // A new status line (after a 100 Continue or a redirect) starts a new set of headers.
            collector.headers = HTTPHeaders()
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            collector.headers.append(name: name, value: value)
        }
        return length
    }
}
