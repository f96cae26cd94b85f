import CRabbitMQ
import Foundation

extension AMQPConnection {
    /// Starts a consumer with manual acks: each delivery stays unacked until `ack`, `nack` or `reject`.
    ///
    /// - Parameters:
    ///   - queue: the queue to take from.
    ///   - prefetch: how many unacked deliveries the broker may have out to this channel at once
    ///     (`basic.qos`). Defaults to 1, which spreads jobs evenly over workers.
    ///   - consumerTag: `""` lets the broker pick one. Defaults to `""`.
    ///   - exclusive: no other consumer may use the queue meanwhile. Defaults to false.
    /// - Returns: the consumer tag, for `cancel(consumerTag:)`.
    @discardableResult
    public func consume(queue: String, prefetch: UInt16 = 1, consumerTag: String = "", exclusive: Bool = false)
        throws -> String
    {
        let arena = CArena()
        defer { arena.release() }
        _ = try rpc("setting prefetch to \(prefetch)") { state in
            amqp_basic_qos(state, Self.channel, 0, prefetch, 0)
        }
        let started = try rpc("consuming from \(queue)") { state in
            amqp_basic_consume(
                state, Self.channel, arena.bytes(queue), arena.bytes(consumerTag), 0, 0, exclusive ? 1 : 0,
                arena.table([:]))
        }
        let tag = copiedString(started.consumer_tag)
        consumerTags.insert(tag)
        return tag
    }

    /// Stops a consumer, so a worker takes no new jobs while it finishes the running ones.
    ///
    /// Deliveries the broker sent before it saw the cancel still come out of `nextDelivery(timeout:)`;
    /// ack them or nack them with requeue. Unacked deliveries stay ours until acked or the channel closes.
    public func cancel(consumerTag: String) throws {
        let arena = CArena()
        defer { arena.release() }
        _ = try rpc("cancelling consumer \(consumerTag)") { state in
            amqp_basic_cancel(state, Self.channel, arena.bytes(consumerTag))
        }
        consumerTags.remove(consumerTag)
    }

    /// Waits for the next delivery to any of this connection's consumers.
    ///
    /// Heartbeats are sent and checked while this waits, so a consumer should call it at least once per
    /// heartbeat interval, also while a job runs on another thread (with a short timeout, between jobs).
    ///
    /// - Parameter timeout: seconds to wait; nil waits for ever.
    /// - Returns: nil when the timeout passed with no delivery.
    /// - Throws: `.connectionLost` when the broker closed the connection (`rabbitmqctl close_connection` gives
    ///   320) or heartbeats stopped; `.channelClosed`; `.consumerCancelled` when the broker cancelled the
    ///   consumer (its queue was deleted); `.protocolError` when there is no consumer and nothing buffered.
    public func nextDelivery(timeout: TimeInterval?) throws -> AMQPDelivery? {
        let deadline = timeout.map { Deadline(after: $0) }
        while true {
            let state = try readyState()
            if consumerTags.isEmpty && amqp_frames_enqueued(state) == 0 && amqp_data_in_buffer(state) == 0 {
                throw AMQPError(
                    code: .protocolError, message: "waiting for a delivery: no consumer; call consume(queue:) first")
            }
            var envelope = amqp_envelope_t()
            var reply: amqp_rpc_reply_t
            if let deadline {
                var wait = timeval(seconds: deadline.remaining)
                reply = amqp_consume_message(state, &envelope, &wait, 0)
            } else {
                reply = amqp_consume_message(state, &envelope, nil, 0)
            }
            if reply.reply_type == AMQP_RESPONSE_NORMAL {
                defer { amqp_destroy_envelope(&envelope) }
                return AMQPDelivery(envelope: envelope)
            }
            if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
                if reply.library_error == AMQP_STATUS_TIMEOUT.rawValue { return nil }
                if reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
                    // Something other than a delivery came first; rabbitmq-c put it back for us to read.
                    try handleStrayFrame(state)
                    if deadline?.hasPassed == true { return nil }
                    continue
                }
            }
            try check(reply, "waiting for a delivery")
        }
    }

    /// Acknowledges a delivery: the broker forgets the message.
    ///
    /// - Parameter multiple: also every earlier unacked delivery on this channel. Defaults to false.
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) throws {
        let state = try deliveringState("acking delivery \(deliveryTag)")
        try check(status: amqp_basic_ack(state, Self.channel, deliveryTag, multiple ? 1 : 0), "acking")
    }

    /// Refuses a delivery. With `requeue` the broker delivers it again (marked `redelivered`; a quorum queue
    /// counts it in `x-delivery-count` and dead-letters it past `x-delivery-limit`); without, it is dropped
    /// or dead-lettered.
    ///
    /// - Parameters:
    ///   - multiple: also every earlier unacked delivery on this channel. Defaults to false.
    ///   - requeue: defaults to true.
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) throws {
        let state = try deliveringState("nacking delivery \(deliveryTag)")
        let status = amqp_basic_nack(state, Self.channel, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        try check(status: status, "nacking")
    }

    /// Refuses one delivery, as `nack` without `multiple`.
    public func reject(_ deliveryTag: UInt64, requeue: Bool) throws {
        let state = try deliveringState("rejecting delivery \(deliveryTag)")
        try check(status: amqp_basic_reject(state, Self.channel, deliveryTag, requeue ? 1 : 0), "rejecting")
    }

    /// Takes one message from a queue without a consumer (`basic.get`), for tests and monitoring.
    ///
    /// - Parameter autoAck: the broker forgets the message at once. Defaults to false: ack it yourself.
    /// - Returns: nil when the queue has no ready message.
    public func get(queue: String, autoAck: Bool = false) throws -> AMQPDelivery? {
        let state = try readyState()
        let arena = CArena()
        defer { arena.release() }
        let action = "getting a message from \(queue)"
        let reply = amqp_basic_get(state, Self.channel, arena.bytes(queue), autoAck ? 1 : 0)
        try check(reply, action)
        guard reply.reply.id == AMQP_BASIC_GET_OK_METHOD, let decoded = reply.reply.decoded else { return nil }
        let got = decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        let exchange = copiedString(got.exchange)
        let routingKey = copiedString(got.routing_key)
        var message = amqp_message_t()
        try check(amqp_read_message(state, Self.channel, &message, 0), action)
        defer { amqp_destroy_message(&message) }
        return AMQPDelivery(
            body: copiedBytes(message.body), deliveryTag: got.delivery_tag, redelivered: got.redelivered != 0,
            exchange: exchange, routingKey: routingKey, consumerTag: nil,
            properties: AMQPMessageProperties(decoding: message.properties))
    }

    /// The handle for an ack, nack or reject, which only make sense on the channel that delivered.
    private func deliveringState(_ action: String) throws -> amqp_connection_state_t {
        // Reopening the channel here would not help: the tag belongs to the closed one, and the broker answers
        // an unknown tag by closing the new channel too.
        if alive && !channelOpen {
            throw AMQPError(
                code: .channelClosed,
                message: "\(action): the channel that delivered it closed; the broker has requeued the message")
        }
        return try readyState()
    }

    /// Handles the frame that stopped `amqp_consume_message`: a close, a consumer cancel, a returned
    /// message, or a late publisher confirm (skipped).
    private func handleStrayFrame(_ state: amqp_connection_state_t) throws {
        let action = "waiting for a delivery"
        var frame = amqp_frame_t()
        try check(status: amqp_simple_wait_frame(state, &frame), action)
        guard Int32(frame.frame_type) == AMQP_FRAME_METHOD, let decoded = frame.payload.method.decoded else {
            return
        }
        switch frame.payload.method.id {
        case AMQP_BASIC_CANCEL_METHOD:
            let tag = copiedString(decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee.consumer_tag)
            consumerTags.remove(tag)
            throw AMQPError(
                code: .consumerCancelled, message: "the broker cancelled consumer \(tag); was its queue deleted?")
        case AMQP_BASIC_RETURN_METHOD:
            try skipContent(state, channel: frame.channel, action)
        default:
            if let error = AMQPError.from(method: frame.payload.method, while: action) { throw absorb(error) }
        }
    }
}

extension AMQPDelivery {
    init(envelope: amqp_envelope_t) {
        self.init(
            body: copiedBytes(envelope.message.body), deliveryTag: envelope.delivery_tag,
            redelivered: envelope.redelivered != 0, exchange: copiedString(envelope.exchange),
            routingKey: copiedString(envelope.routing_key), consumerTag: copiedString(envelope.consumer_tag),
            properties: AMQPMessageProperties(decoding: envelope.message.properties))
    }
}
