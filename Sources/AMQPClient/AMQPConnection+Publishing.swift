import CRabbitMQ
import Foundation

extension AMQPConnection {
    /// Puts the channel in confirm mode (`confirm.select`): from now on every `publish` waits until the broker
    /// has taken responsibility for the message (for a persistent message to a durable queue: written it to
    /// disk, or to a quorum of replicas).
    ///
    /// Only turn this on for a connection that does not consume; see the type's documentation.
    public func enableConfirms() throws {
        guard !confirmsWanted else { return }
        _ = try rpc("turning on publisher confirms") { state in amqp_confirm_select(state, Self.channel) }
        confirmsWanted = true
        publishSequence = 0
    }

    /// Publishes one message; with confirms on, returns once the broker acked it.
    ///
    /// Without confirms, a message the broker refuses (an exchange that does not exist, for one) is lost
    /// quietly and the error only shows as `channelClosed` on a later call.
    ///
    /// - Parameters:
    ///   - exchange: `""` is the default exchange, which routes by queue name. Defaults to `""`.
    ///   - routingKey: the queue name for the default exchange.
    ///   - body: the message bytes.
    ///   - properties: persistence, ids, headers, per-message TTL. Defaults to none (a transient message).
    ///   - mandatory: when no queue matches, the broker returns the message instead of dropping it; with
    ///     confirms on that throws `.publishReturned`. Defaults to false.
    /// - Throws: `.publishNacked`, `.publishReturned`, `.timeout` (no confirm in
    ///   `configuration.confirmTimeout`; the message may or may not be queued), `.channelClosed` (such as 404
    ///   for a missing exchange, seen only with confirms on), `.connectionLost`, and `.protocolError` when
    ///   confirms are on and this connection also consumes.
    public func publish(
        exchange: String = "", routingKey: String, body: [UInt8],
        properties: AMQPMessageProperties = AMQPMessageProperties(), mandatory: Bool = false
    ) throws {
        let action = "publishing to exchange '\(exchange)' with key '\(routingKey)'"
        if confirmsWanted && !consumerTags.isEmpty {
            // Waiting for the confirm reads every frame, and deliveries among them would be lost.
            throw AMQPError(
                code: .protocolError,
                message: "\(action): this connection consumes; publish with confirms on a connection of its own")
        }
        let state = try readyState()
        let arena = CArena()
        defer { arena.release() }
        var encoded = properties.encode(in: arena)
        let status = body.withUnsafeBytes { raw in
            let bytes = amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress))
            return amqp_basic_publish(
                state, Self.channel, arena.bytes(exchange), arena.bytes(routingKey), mandatory ? 1 : 0, 0, &encoded,
                bytes)
        }
        try check(status: status, action)
        guard confirmsWanted else { return }
        publishSequence += 1
        try waitForConfirm(of: publishSequence, state, action)
    }

    /// Publishes `body` given as `Data`; see `publish(exchange:routingKey:body:properties:mandatory:)`.
    public func publish(
        exchange: String = "", routingKey: String, body: Data,
        properties: AMQPMessageProperties = AMQPMessageProperties(), mandatory: Bool = false
    ) throws {
        try publish(
            exchange: exchange, routingKey: routingKey, body: [UInt8](body), properties: properties,
            mandatory: mandatory)
    }

    /// Reads frames until the broker acks or nacks delivery tag `tag`.
    ///
    /// The broker sends `basic.return` before the ack of an unroutable mandatory message, so a return is
    /// remembered and thrown once the ack arrives, leaving no frame of this message behind. Acks for earlier
    /// tags (late answers to a publish that timed out) are skipped.
    private func waitForConfirm(of tag: UInt64, _ state: amqp_connection_state_t, _ action: String) throws {
        let deadline = Deadline(after: configuration.confirmTimeout)
        var returned: AMQPError?
        while true {
            var frame = amqp_frame_t()
            var timeout = timeval(seconds: deadline.remaining)
            let status = amqp_simple_wait_frame_noblock(state, &frame, &timeout)
            if status == AMQP_STATUS_TIMEOUT.rawValue {
                throw AMQPError(
                    code: .timeout,
                    message: "\(action): no confirm within \(configuration.confirmTimeout) s; the message may be queued"
                )
            }
            try check(status: status, action)
            guard Int32(frame.frame_type) == AMQP_FRAME_METHOD, let decoded = frame.payload.method.decoded else {
                continue
            }
            switch frame.payload.method.id {
            case AMQP_BASIC_ACK_METHOD:
                let ack = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                guard ack.delivery_tag == tag || (ack.multiple != 0 && ack.delivery_tag > tag) else { continue }
                if let returned { throw returned }
                return
            case AMQP_BASIC_NACK_METHOD:
                let nack = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
                guard nack.delivery_tag == tag || (nack.multiple != 0 && nack.delivery_tag > tag) else { continue }
                throw AMQPError(code: .publishNacked, message: "\(action): the broker nacked the message")
            case AMQP_BASIC_RETURN_METHOD:
                let back = decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
                returned = AMQPError(
                    code: .publishReturned, replyCode: Int(back.reply_code),
                    message: "\(action): the broker returned the message: \(copiedString(back.reply_text))")
                try skipContent(state, channel: frame.channel, action)
            default:
                if let error = AMQPError.from(method: frame.payload.method, while: action) { throw absorb(error) }
            }
        }
    }

    /// Reads and drops the header and body frames that follow a `basic.return`.
    func skipContent(_ state: amqp_connection_state_t, channel: amqp_channel_t, _ action: String) throws {
        var message = amqp_message_t()
        try check(amqp_read_message(state, channel, &message, 0), action)
        amqp_destroy_message(&message)
    }
}

/// A point in monotonic time, for loops that wait several times under one timeout.
struct Deadline {
    private let end: UInt64

    init(after seconds: TimeInterval) {
        end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1_000_000_000)
    }

    var remaining: TimeInterval {
        let now = DispatchTime.now().uptimeNanoseconds
        return now >= end ? 0 : TimeInterval(end - now) / 1_000_000_000
    }

    var hasPassed: Bool { remaining == 0 }
}
