import CRabbitMQ

/// A failure talking to RabbitMQ. The one place where rabbitmq-c's replies, status codes and the broker's
/// `connection.close` / `channel.close` methods become Swift errors.
///
/// `description` carries the broker's reply code and text and the library's message, never a password or a
/// message body, so it is safe to show an operator.
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The TCP connection could not be made (refused, unreachable, name not found, connect timeout).
        case connectionFailed
        /// The broker refused the login (wrong user or password, `403 ACCESS_REFUSED`) or the virtual host
        /// (`530 NOT_ALLOWED`).
        case loginFailed
        /// The connection is gone: the broker closed it (`replyCode` says why, such as `320 CONNECTION_FORCED`),
        /// the socket broke, or heartbeats stopped. Every later call fails the same way; reconnect.
        case connectionLost
        /// The broker closed the channel, with `replyCode` such as `404 NOT_FOUND` or `406 PRECONDITION_FAILED`.
        /// The connection survives and opens a fresh channel on the next call, but consumers and unacked
        /// deliveries of the old channel are gone (the broker requeues those deliveries).
        case channelClosed
        /// The broker answered a publish with `basic.nack`: it did not take responsibility for the message.
        case publishNacked
        /// A `mandatory` publish could not be routed to any queue (`basic.return`, usually `312 NO_ROUTE`).
        case publishReturned
        /// The broker cancelled our consumer, for example because its queue was deleted.
        case consumerCancelled
        /// No answer in time. After an RPC timeout the connection is closed; after a confirm timeout it is
        /// kept, but whether the broker took the message is unknown.
        case timeout
        /// A malformed URL or an invalid setting.
        case invalidConfiguration
        /// Something the protocol or this wrapper does not allow, such as a misuse of the API.
        case protocolError
    }

    /// What an error did to the connection, so the connection can update its own state. Not public: callers
    /// only need `code`.
    enum Damage: Sendable {
        case none
        /// The broker sent `channel.close`; it waits for our `channel.close-ok`.
        case channelClosedByBroker
        /// The broker sent `connection.close`; it waits for our `connection.close-ok`.
        case connectionClosedByBroker
        /// The socket or the library's state is unusable.
        case connectionBroken
    }

    public let code: Code
    /// The broker's AMQP reply code (`404`, `406`, `320`, `403`, `312`...), when the broker sent one.
    public let replyCode: Int?
    public let message: String
    let damage: Damage

    public init(code: Code, replyCode: Int? = nil, message: String) {
        self.init(code: code, replyCode: replyCode, message: message, damage: .none)
    }

    init(code: Code, replyCode: Int? = nil, message: String, damage: Damage) {
        self.code = code
        self.replyCode = replyCode
        self.message = message
        self.damage = damage
    }

    public var description: String {
        let reply = replyCode.map { " [\($0)]" } ?? ""
        return "amqp \(code.rawValue)\(reply): \(message)"
    }

    /// True for failures that may pass if the same work is tried again, usually on a new connection: a
    /// refused or lost connection, a timeout, a nack, a cancelled consumer, or a channel closed because a
    /// resource was locked (`405`) or the broker ran short (`506`, `541`).
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timeout, .publishNacked, .consumerCancelled: return true
        case .channelClosed: return replyCode.map { [405, 506, 541].contains($0) } ?? false
        case .loginFailed, .publishReturned, .invalidConfiguration, .protocolError: return false
        }
    }

    /// Converts a library status code from a call that returns `int` (`amqp_basic_publish`, ...).
    ///
    /// - Returns: nil for `AMQP_STATUS_OK`.
    static func from(status: Int32, while action: String) -> AMQPError? {
        guard status != AMQP_STATUS_OK.rawValue else { return nil }
        let text = String(cString: amqp_error_string2(status))
        switch status {
        case AMQP_STATUS_TIMEOUT.rawValue:
            // rabbitmq-c closes the connection when an RPC times out.
            return AMQPError(code: .timeout, message: "\(action): \(text)", damage: .connectionBroken)
        case AMQP_STATUS_INVALID_PARAMETER.rawValue, AMQP_STATUS_TABLE_TOO_BIG.rawValue,
            AMQP_STATUS_UNSUPPORTED.rawValue:
            return AMQPError(code: .protocolError, message: "\(action): \(text)")
        case AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue, AMQP_STATUS_CONNECTION_CLOSED.rawValue,
            AMQP_STATUS_SOCKET_ERROR.rawValue, AMQP_STATUS_SOCKET_CLOSED.rawValue, AMQP_STATUS_TCP_ERROR.rawValue,
            AMQP_STATUS_SSL_ERROR.rawValue:
            return AMQPError(code: .connectionLost, message: "\(action): \(text)", damage: .connectionBroken)
        default:
            // Bad frames, unknown methods and the like leave the library's parser in an unknown state.
            return AMQPError(code: .protocolError, message: "\(action): \(text)", damage: .connectionBroken)
        }
    }

    /// Converts the reply of an RPC-style call (`amqp_get_rpc_reply`, `amqp_login`, `amqp_basic_get`, ...).
    ///
    /// - Returns: nil for a normal reply.
    static func from(reply: amqp_rpc_reply_t, while action: String) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return from(status: reply.library_error, while: action)
                ?? AMQPError(code: .protocolError, message: "\(action): library error without a status")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            return from(method: reply.reply, while: action)
                ?? AMQPError(code: .protocolError, message: "\(action): unexpected method \(reply.reply.id)")
        default:
            return AMQPError(code: .protocolError, message: "\(action): no reply from the library")
        }
    }

    /// Converts a `connection.close` or `channel.close` method that the broker sent.
    ///
    /// - Returns: nil for any other method.
    static func from(method: amqp_method_t, while action: String) -> AMQPError? {
        guard let decoded = method.decoded else { return nil }
        switch method.id {
        case AMQP_CONNECTION_CLOSE_METHOD:
            let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return AMQPError(
                code: .connectionLost, replyCode: Int(close.reply_code),
                message: "\(action): broker closed the connection: \(copiedString(close.reply_text))",
                damage: .connectionClosedByBroker)
        case AMQP_CHANNEL_CLOSE_METHOD:
            let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            return AMQPError(
                code: .channelClosed, replyCode: Int(close.reply_code),
                message: "\(action): broker closed the channel: \(copiedString(close.reply_text))",
                damage: .channelClosedByBroker)
        default:
            return nil
        }
    }

    /// The same error seen during login, where any refusal by the broker means the credentials or the
    /// virtual host were not accepted.
    func duringLogin() -> AMQPError {
        switch code {
        case .connectionLost where replyCode != nil:
            return AMQPError(code: .loginFailed, replyCode: replyCode, message: message, damage: damage)
        case .connectionLost:
            // We ask for the authentication_failure_close capability, so a broker that refuses the login
            // says so with a reply code. A socket dropped without one is a broker starting or stopping
            // (seen during restarts), which is worth trying again.
            return AMQPError(
                code: .connectionFailed, message: "\(message) (the broker dropped the connection during login)",
                damage: damage)
        default:
            return self
        }
    }
}

/// Copies an `amqp_bytes_t` out as a String, replacing invalid UTF-8.
func copiedString(_ bytes: amqp_bytes_t) -> String {
    guard let base = bytes.bytes, bytes.len > 0 else { return "" }
    let buffer = UnsafeRawBufferPointer(start: base, count: bytes.len)
    return String(decoding: buffer, as: UTF8.self)
}

/// Copies an `amqp_bytes_t` out as bytes.
func copiedBytes(_ bytes: amqp_bytes_t) -> [UInt8] {
    guard let base = bytes.bytes, bytes.len > 0 else { return [] }
    return [UInt8](UnsafeRawBufferPointer(start: base, count: bytes.len))
}
