import CRabbitMQ
import Foundation

/// The `basic` properties sent with a message. Every field is optional and defaults to absent.
public struct AMQPMessageProperties: Sendable, Equatable {
    /// Such as `application/json`.
    public var contentType: String?
    /// Delivery mode 2: a durable queue keeps the message across a broker restart. Defaults to false.
    public var persistent: Bool
    public var messageId: String?
    public var correlationId: String?
    public var replyTo: String?
    /// Per-message time to live in milliseconds, written as a decimal string (`"300"`), as AMQP carries it.
    /// When it passes, the broker drops the message or dead-letters it if the queue has a dead-letter exchange.
    public var expiration: String?
    /// 0 to 255; only classic queues declared with `x-max-priority` use it.
    public var priority: UInt8?
    /// Whole seconds; finer parts are dropped.
    public var timestamp: Date?
    public var type: String?
    /// Application headers; the broker adds `x-delivery-count` (quorum queues) and `x-death` (dead-lettering).
    public var headers: [String: AMQPValue]

    public init(
        contentType: String? = nil, persistent: Bool = false, messageId: String? = nil, correlationId: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, priority: UInt8? = nil, timestamp: Date? = nil,
        type: String? = nil, headers: [String: AMQPValue] = [:]
    ) {
        self.contentType = contentType
        self.persistent = persistent
        self.messageId = messageId
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.priority = priority
        self.timestamp = timestamp
        self.type = type
        self.headers = headers
    }

    /// Builds the C structure; strings and the header table live in `arena`.
    func encode(in arena: CArena) -> amqp_basic_properties_t {
        var properties = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func text(_ value: String?, _ flag: Int32, _ store: (amqp_bytes_t) -> Void) {
            guard let value else { return }
            store(arena.bytes(value))
            flags |= UInt32(flag)
        }
        text(contentType, AMQP_BASIC_CONTENT_TYPE_FLAG) { properties.content_type = $0 }
        text(messageId, AMQP_BASIC_MESSAGE_ID_FLAG) { properties.message_id = $0 }
        text(correlationId, AMQP_BASIC_CORRELATION_ID_FLAG) { properties.correlation_id = $0 }
        text(replyTo, AMQP_BASIC_REPLY_TO_FLAG) { properties.reply_to = $0 }
        text(expiration, AMQP_BASIC_EXPIRATION_FLAG) { properties.expiration = $0 }
        text(type, AMQP_BASIC_TYPE_FLAG) { properties.type = $0 }
        if persistent {
            properties.delivery_mode = 2
            flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        }
        if let priority {
            properties.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp {
            properties.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970))
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        if !headers.isEmpty {
            properties.headers = arena.table(headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        properties._flags = flags
        return properties
    }

    /// Copies the properties out of a message rabbitmq-c decoded.
    init(decoding properties: amqp_basic_properties_t) {
        let flags = properties._flags
        func text(_ flag: Int32, _ value: amqp_bytes_t) -> String? {
            flags & UInt32(flag) != 0 ? copiedString(value) : nil
        }
        self.init(
            contentType: text(AMQP_BASIC_CONTENT_TYPE_FLAG, properties.content_type),
            persistent: flags & UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && properties.delivery_mode == 2,
            messageId: text(AMQP_BASIC_MESSAGE_ID_FLAG, properties.message_id),
            correlationId: text(AMQP_BASIC_CORRELATION_ID_FLAG, properties.correlation_id),
            replyTo: text(AMQP_BASIC_REPLY_TO_FLAG, properties.reply_to),
            expiration: text(AMQP_BASIC_EXPIRATION_FLAG, properties.expiration),
            priority: flags & UInt32(AMQP_BASIC_PRIORITY_FLAG) != 0 ? properties.priority : nil,
            timestamp: flags & UInt32(AMQP_BASIC_TIMESTAMP_FLAG) != 0
                ? Date(timeIntervalSince1970: Double(properties.timestamp)) : nil,
            type: text(AMQP_BASIC_TYPE_FLAG, properties.type),
            headers: flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0 ? AMQPValue.decode(properties.headers) : [:])
    }
}

/// One message handed to us by `nextDelivery(timeout:)` or `get(queue:)`, copied out of rabbitmq-c's memory.
///
/// `deliveryTag` is only valid on the connection (and channel) that delivered it: after a reconnect or a
/// `channelClosed` error the broker has already requeued the message, so do not ack it.
public struct AMQPDelivery: Sendable {
    public let body: [UInt8]
    public let deliveryTag: UInt64
    /// True when the broker delivered this message before (it was nacked, rejected, or its consumer went away).
    public let redelivered: Bool
    public let exchange: String
    public let routingKey: String
    /// The consumer it came to; nil for `get(queue:)`.
    public let consumerTag: String?
    public let properties: AMQPMessageProperties

    public init(
        body: [UInt8], deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String,
        consumerTag: String?, properties: AMQPMessageProperties
    ) {
        self.body = body
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.consumerTag = consumerTag
        self.properties = properties
    }

    public var messageId: String? { properties.messageId }

    /// The body as `Data`.
    public var data: Data { Data(body) }

    /// How many times a quorum queue delivered this message before (`x-delivery-count`); nil on the first
    /// delivery and on classic queues.
    public var deliveryCount: Int? {
        properties.headers["x-delivery-count"]?.intValue.map { Int($0) }
    }

    /// The queues this message was dead-lettered from, newest first, as `x-death` lists them.
    public var deathQueues: [String] {
        let deaths = properties.headers["x-death"]?.arrayValue ?? []
        return deaths.compactMap { $0.tableValue?["queue"]?.stringValue }
    }
}
