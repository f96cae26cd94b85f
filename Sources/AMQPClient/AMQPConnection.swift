import CRabbitMQ
import Foundation

/// The kind of an exchange.
public enum AMQPExchangeType: String, Sendable {
    case direct, topic, fanout, headers
}

/// What the broker said about a queue after a declare.
public struct AMQPQueueInfo: Sendable, Equatable {
    /// The queue's name; the broker picks one when the declare asked for `""`.
    public let name: String
    /// Messages ready for delivery (not counting those delivered and not yet acked).
    public let messageCount: Int
    public let consumerCount: Int
}

/// One connection to RabbitMQ through rabbitmq-c, with one channel (number 1).
///
/// Calls block the calling thread, so use a connection from a thread you own (a Dispatch queue or a worker
/// thread), never from a Swift concurrency task, and from one thread at a time; the type is deliberately not
/// `Sendable`. The connection is freed when the object goes away, also after a failed connect.
///
/// Use one connection to publish with confirms and another to consume: while waiting for a confirm this
/// wrapper reads every frame on the connection, and would have to drop deliveries (so it refuses instead).
///
/// After a `connectionLost` error every call fails the same way; make a new connection, or use
/// `AMQPReconnectingConnection`. After a `channelClosed` error the next call opens a fresh channel (and
/// turns confirms back on) but consumers are gone.
public final class AMQPConnection {
    public let configuration: AMQPConfiguration
    private var state: amqp_connection_state_t?
    /// False once the socket broke or either side closed the connection.
    private(set) var alive = false
    private(set) var channelOpen = false
    /// Set by `enableConfirms()`, so a reopened channel gets confirms again.
    var confirmsWanted = false
    /// The delivery tag the broker gave the last publish on this channel, counted as the broker counts.
    var publishSequence: UInt64 = 0
    /// Our consumers on the current channel.
    public internal(set) var consumerTags: Set<String> = []

    static let channel: amqp_channel_t = 1

    /// Connects, logs in and opens channel 1.
    ///
    /// - Throws: `AMQPError` with code `.connectionFailed` (TCP), `.loginFailed` (credentials or virtual
    ///   host), or `.timeout`.
    public init(configuration: AMQPConfiguration) throws {
        self.configuration = configuration
        guard let state = amqp_new_connection() else {
            throw AMQPError(code: .connectionFailed, message: "rabbitmq-c could not allocate a connection")
        }
        self.state = state
        do {
            try open(state)
        } catch {
            amqp_destroy_connection(state)
            self.state = nil
            throw error
        }
    }

    /// Parses `url` (see `AMQPConfiguration.init(url:)`) and connects.
    public convenience init(url: String) throws {
        try self.init(configuration: AMQPConfiguration(url: url))
    }

    deinit {
        close()
    }

    /// True until the connection broke or was closed.
    public var isOpen: Bool { alive }

    /// The local TCP port of the connection, which the broker lists as `peer_port`; nil once closed.
    public var localPort: Int? {
        guard let state, alive else { return nil }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(amqp_get_sockfd(state), $0, &length)
            }
        }
        guard status == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Closes the channel and the connection politely when they are still up, then frees everything.
    /// Safe to call twice; the deinitializer calls it.
    public func close() {
        guard let state else { return }
        if alive {
            // A peer that fell silent would otherwise hold a deinit for the whole RPC timeout, twice.
            var quick = timeval(seconds: min(configuration.rpcTimeout ?? 2, 2))
            _ = amqp_set_rpc_timeout(state, &quick)
            var closed = true
            if channelOpen {
                closed = amqp_channel_close(state, Self.channel, AMQP_REPLY_SUCCESS).reply_type == AMQP_RESPONSE_NORMAL
            }
            if closed { _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS) }
        }
        amqp_destroy_connection(state)
        self.state = nil
        alive = false
        channelOpen = false
        consumerTags.removeAll()
    }

    // MARK: Topology

    /// Declares an exchange, or checks that an equal one exists.
    ///
    /// - Parameters:
    ///   - durable: survives a broker restart. Defaults to true.
    ///   - autoDelete: deleted when its last binding goes. Defaults to false.
    ///   - arguments: such as `alternate-exchange`. Defaults to none.
    /// - Throws: `.channelClosed` with 406 if it exists with other settings.
    public func declareExchange(
        _ name: String, type: AMQPExchangeType, durable: Bool = true, autoDelete: Bool = false,
        arguments: [String: AMQPValue] = [:]
    ) throws {
        let arena = CArena()
        defer { arena.release() }
        _ = try rpc("declaring exchange \(name)") { state in
            amqp_exchange_declare(
                state, Self.channel, arena.bytes(name), arena.bytes(type.rawValue), 0, durable ? 1 : 0,
                autoDelete ? 1 : 0, 0, arena.table(arguments))
        }
    }

    /// Deletes an exchange; deleting one that does not exist succeeds.
    public func deleteExchange(_ name: String) throws {
        let arena = CArena()
        defer { arena.release() }
        _ = try rpc("deleting exchange \(name)") { state in
            amqp_exchange_delete(state, Self.channel, arena.bytes(name), 0)
        }
    }

    /// Declares a queue, or checks that an equal one exists, and says how full it is.
    ///
    /// - Parameters:
    ///   - name: `""` lets the broker pick a name, returned in the result.
    ///   - durable: survives a broker restart. Defaults to true.
    ///   - exclusive: only this connection may use it, and it goes with the connection. Defaults to false.
    ///   - autoDelete: deleted when its last consumer goes. Defaults to false.
    ///   - arguments: such as `x-queue-type: quorum`, `x-dead-letter-exchange`, `x-dead-letter-routing-key`,
    ///     `x-delivery-limit` (quorum), `x-message-ttl` (ms), `x-max-priority` (classic queues only; quorum
    ///     queues in RabbitMQ 3.10 reject it). Defaults to none.
    /// - Throws: `.channelClosed` with 406 if it exists with other settings.
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: [String: AMQPValue] = [:]
    ) throws -> AMQPQueueInfo {
        try queueDeclare(
            name, passive: false, durable: durable, exclusive: exclusive, autoDelete: autoDelete,
            arguments: arguments)
    }

    /// Reads a queue's depth and consumer count without changing it (a passive declare).
    ///
    /// - Throws: `.channelClosed` with 404 if there is no such queue.
    public func queueInfo(_ name: String) throws -> AMQPQueueInfo {
        try queueDeclare(name, passive: true, durable: false, exclusive: false, autoDelete: false, arguments: [:])
    }

    /// Routes messages from `exchange` with a matching key to `queue`.
    public func bindQueue(
        _ queue: String, exchange: String, routingKey: String, arguments: [String: AMQPValue] = [:]
    ) throws {
        let arena = CArena()
        defer { arena.release() }
        _ = try rpc("binding queue \(queue) to \(exchange)") { state in
            amqp_queue_bind(
                state, Self.channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
                arena.table(arguments))
        }
    }

    /// Deletes a queue with its messages; deleting one that does not exist succeeds.
    ///
    /// - Returns: how many messages went with it.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) throws -> Int {
        let arena = CArena()
        defer { arena.release() }
        let deleted = try rpc("deleting queue \(name)") { state in
            amqp_queue_delete(state, Self.channel, arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
        }
        return Int(deleted.message_count)
    }

    /// Drops every ready message of a queue.
    ///
    /// - Returns: how many were dropped.
    @discardableResult
    public func purgeQueue(_ name: String) throws -> Int {
        let arena = CArena()
        defer { arena.release() }
        let purged = try rpc("purging queue \(name)") { state in
            amqp_queue_purge(state, Self.channel, arena.bytes(name))
        }
        return Int(purged.message_count)
    }

    // MARK: Internals shared by the extensions

    /// The connection handle with an open channel, reopening the channel after the broker closed it.
    func readyState() throws -> amqp_connection_state_t {
        guard let state, alive else {
            throw AMQPError(code: .connectionLost, message: "the connection is closed")
        }
        // Decoded replies of the previous call live in the connection's pools until released here.
        amqp_maybe_release_buffers(state)
        if !channelOpen { try openChannel(state) }
        return state
    }

    /// Runs an RPC-style call that returns a pointer to the broker's reply, and copies the reply out.
    func rpc<Reply>(_ action: String, _ call: (amqp_connection_state_t) -> UnsafeMutablePointer<Reply>?) throws
        -> Reply
    {
        let state = try readyState()
        let result = call(state)
        try check(amqp_get_rpc_reply(state), action)
        guard let result else {
            throw AMQPError(code: .protocolError, message: "\(action): the library returned no reply")
        }
        return result.pointee
    }

    /// Throws the error for `reply`, if any, after bringing our state in line with it.
    func check(_ reply: amqp_rpc_reply_t, _ action: String) throws {
        if let error = AMQPError.from(reply: reply, while: action) { throw absorb(error) }
    }

    /// Throws the error for a library status, if any, after bringing our state in line with it.
    func check(status: Int32, _ action: String) throws {
        if let error = AMQPError.from(status: status, while: action) { throw absorb(error) }
    }

    /// Answers the broker's close (it waits for a close-ok) and records what the error left standing.
    func absorb(_ error: AMQPError) -> AMQPError {
        guard let state else { return error }
        switch error.damage {
        case .none:
            break
        case .channelClosedByBroker:
            var closeOk = amqp_channel_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, Self.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &closeOk)
            channelLost()
        case .connectionClosedByBroker:
            var closeOk = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &closeOk)
            alive = false
            channelLost()
        case .connectionBroken:
            alive = false
            channelLost()
        }
        return error
    }

    private func channelLost() {
        channelOpen = false
        consumerTags.removeAll()
        publishSequence = 0
    }

    private func open(_ state: amqp_connection_state_t) throws {
        let endpoint = "\(configuration.host):\(configuration.port)"
        guard let socket = amqp_tcp_socket_new(state) else {
            throw AMQPError(code: .connectionFailed, message: "rabbitmq-c could not create a socket")
        }
        var connectTimeout = timeval(seconds: configuration.connectTimeout)
        let status = amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &connectTimeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            let text = String(cString: amqp_error_string2(status))
            throw AMQPError(code: .connectionFailed, message: "connecting to \(endpoint): \(text)")
        }
        alive = true
        _ = amqp_set_handshake_timeout(state, &connectTimeout)
        if let seconds = configuration.rpcTimeout {
            var rpcTimeout = timeval(seconds: seconds)
            _ = amqp_set_rpc_timeout(state, &rpcTimeout)
        }
        try login(state, endpoint)
        try openChannel(state)
    }

    private func login(_ state: amqp_connection_state_t, _ endpoint: String) throws {
        let arena = CArena()
        defer { arena.release() }
        // consumer_cancel_notify asks the broker to tell us when it drops our consumer (queue deleted), which it
        // otherwise does silently; rabbitmq-c merges these capabilities with its own defaults.
        let capabilities: [String: AMQPValue] = ["consumer_cancel_notify": true, "authentication_failure_close": true]
        var properties: [String: AMQPValue] = ["product": "rostersync", "capabilities": .table(capabilities)]
        if let name = configuration.connectionName { properties["connection_name"] = .string(name) }
        var table = arena.table(properties)
        let reply = crabbit_login_plain_with_properties(
            state, arena.cString(configuration.virtualHost), 0, Int32(configuration.frameMax),
            Int32(configuration.heartbeat), &table, arena.cString(configuration.user),
            arena.cString(configuration.password))
        guard let error = AMQPError.from(reply: reply, while: "logging in to \(endpoint) as \(configuration.user)")
        else { return }
        throw absorb(error.duringLogin())
    }

    private func openChannel(_ state: amqp_connection_state_t) throws {
        _ = amqp_channel_open(state, Self.channel)
        try check(amqp_get_rpc_reply(state), "opening a channel")
        channelOpen = true
        publishSequence = 0
        if confirmsWanted {
            _ = amqp_confirm_select(state, Self.channel)
            try check(amqp_get_rpc_reply(state), "turning on publisher confirms")
        }
    }

    private func queueDeclare(
        _ name: String, passive: Bool, durable: Bool, exclusive: Bool, autoDelete: Bool,
        arguments: [String: AMQPValue]
    ) throws -> AMQPQueueInfo {
        let arena = CArena()
        defer { arena.release() }
        let declared = try rpc("declaring queue \(name)") { state in
            amqp_queue_declare(
                state, Self.channel, arena.bytes(name), passive ? 1 : 0, durable ? 1 : 0, exclusive ? 1 : 0,
                autoDelete ? 1 : 0, arena.table(arguments))
        }
        return AMQPQueueInfo(
            name: copiedString(declared.queue), messageCount: Int(declared.message_count),
            consumerCount: Int(declared.consumer_count))
    }
}

extension timeval {
    init(seconds: TimeInterval) {
        let clamped = max(0, seconds)
        self.init(tv_sec: Int(clamped), tv_usec: Int((clamped - clamped.rounded(.down)) * 1_000_000))
    }
}
