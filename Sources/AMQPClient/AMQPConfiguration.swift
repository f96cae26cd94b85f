import Foundation

/// Where and how to connect to RabbitMQ.
///
/// Usually read once at start-up from a URL such as `amqp://user:pass@host:5672/vhost`. `description`
/// leaves the password out.
public struct AMQPConfiguration: Sendable, CustomStringConvertible {
    /// The broker's host name or address.
    public var host: String
    /// The broker's AMQP port. Defaults to 5672.
    public var port: Int
    /// Defaults to `guest`, which RabbitMQ only lets in from loopback.
    public var user: String
    /// Defaults to `guest`.
    public var password: String
    /// Defaults to `/`.
    public var virtualHost: String
    /// Seconds between heartbeats; 0 turns them off. Defaults to 30. Heartbeats are only sent while a call
    /// is inside rabbitmq-c, so a consumer must call `nextDelivery(timeout:)` at least this often.
    public var heartbeat: Int
    /// Seconds allowed for the TCP connect and, separately, for the login handshake. Defaults to 5.
    public var connectTimeout: TimeInterval
    /// Seconds allowed for one RPC such as a queue declare; nil waits forever. When it passes, rabbitmq-c
    /// closes the connection. Defaults to 30.
    public var rpcTimeout: TimeInterval?
    /// Seconds a confirmed publish waits for the broker's ack. Defaults to 10.
    public var confirmTimeout: TimeInterval
    /// The largest frame, in bytes, to negotiate. Defaults to 131072 (rabbitmq-c's default).
    public var frameMax: Int
    /// A name the broker shows for the connection (client property `connection_name`). Defaults to nil.
    public var connectionName: String?

    /// - Parameters:
    ///   - host: defaults to `127.0.0.1`.
    ///   - port: defaults to 5672.
    ///   - user: defaults to `guest`.
    ///   - password: defaults to `guest`.
    ///   - virtualHost: defaults to `/`.
    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        virtualHost: String = "/"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        heartbeat = 30
        connectTimeout = 5
        rpcTimeout = 30
        confirmTimeout = 10
        frameMax = 131_072
        connectionName = nil
    }

    /// Reads an AMQP URI: `amqp://user:pass@host:port/vhost?heartbeat=10&connection_timeout=5000&frame_max=131072`.
    ///
    /// Missing parts take the defaults of `init(host:port:user:password:virtualHost:)`. The virtual host is
    /// percent-decoded (`%2f` is `/`); no path or an empty one means `/`. This differs from rabbitmq-c's own
    /// parser, where a trailing slash means the empty virtual host that no broker has.
    /// `connection_timeout` is in milliseconds, as in RabbitMQ's URI spec; `heartbeat` is in seconds.
    ///
    /// - Throws: `AMQPError` with code `.invalidConfiguration`; its message never repeats the URL, which may
    ///   hold a password.
    public init(url: String) throws {
        self.init()
        guard let components = URLComponents(string: url) else { throw Self.invalid("it is not a URL") }
        switch components.scheme?.lowercased() {
        case "amqp": break
        case "amqps": throw Self.invalid("amqps (TLS) is not supported")
        default: throw Self.invalid("the scheme must be amqp://")
        }
        guard let host = components.host, !host.isEmpty else { throw Self.invalid("the host is missing") }
        self.host = host
        if let port = components.port {
            guard (1...65535).contains(port) else { throw Self.invalid("the port must be 1 to 65535") }
            self.port = port
        }
        if let user = components.percentEncodedUser {
            guard let decoded = user.removingPercentEncoding else { throw Self.invalid("the user is badly encoded") }
            self.user = decoded
        }
        if let password = components.percentEncodedPassword {
            guard let decoded = password.removingPercentEncoding else {
                throw Self.invalid("the password is badly encoded")
            }
            self.password = decoded
        }
        virtualHost = try Self.virtualHost(fromPath: components.percentEncodedPath)
        for item in components.queryItems ?? [] {
            try apply(item)
        }
    }

    public var description: String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "amqp://\(user)@\(host):\(port)/\(vhost)"
    }

    private static func virtualHost(fromPath path: String) throws -> String {
        let encoded = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !encoded.isEmpty else { return "/" }
        guard !encoded.contains("/") else {
            throw invalid("the path must be one segment, the virtual host; write a / inside it as %2f")
        }
        guard let decoded = encoded.removingPercentEncoding else {
            throw invalid("the virtual host is badly encoded")
        }
        return decoded
    }

    private mutating func apply(_ item: URLQueryItem) throws {
        let value = item.value ?? ""
        switch item.name {
        case "heartbeat":
            guard let seconds = Int(value), seconds >= 0 else {
                throw Self.invalid("heartbeat must be whole seconds, 0 or more")
            }
            heartbeat = seconds
        case "connection_timeout":
            guard let milliseconds = Int(value), milliseconds > 0 else {
                throw Self.invalid("connection_timeout must be a positive number of milliseconds")
            }
            connectTimeout = TimeInterval(milliseconds) / 1000
        case "frame_max":
            guard let bytes = Int(value), bytes >= 4096 else { throw Self.invalid("frame_max must be 4096 or more") }
            frameMax = bytes
        default:
            throw Self.invalid("unknown URL parameter '\(item.name)'; known: heartbeat, connection_timeout, frame_max")
        }
    }

    private static func invalid(_ reason: String) -> AMQPError {
        AMQPError(code: .invalidConfiguration, message: "malformed AMQP URL: \(reason)")
    }
}
