import AMQPClient
import Foundation
import XCTest

final class AMQPConnectionTests: XCTestCase {
    var broker: BrokerFixture!

    override func setUpWithError() throws {
        broker = try BrokerFixture()
    }

    override func tearDown() {
        broker?.cleanUp()
    }

    func testAPersistentConfirmedMessageInAQuorumQueueIsConsumedExactlyOnce() throws {
        let queue = broker.queueName("quorum")
        let publisher = try broker.connect()
        try publisher.declareQueue(queue, arguments: ["x-queue-type": "quorum"])
        try publisher.enableConfirms()
        let properties = AMQPMessageProperties(
            contentType: "application/json", persistent: true, messageId: "job-1", correlationId: "run-7",
            headers: ["district.id": "d-42", "attempt": 1, "urgent": true])
        try publisher.publish(routingKey: queue, body: Array(#"{"district":"d-42"}"#.utf8), properties: properties)

        let consumer = try broker.connect()
        let tag = try consumer.consume(queue: queue, prefetch: 1)
        let delivery = try XCTUnwrap(consumer.nextDelivery(timeout: 5))
        XCTAssertEqual(String(decoding: delivery.body, as: UTF8.self), #"{"district":"d-42"}"#)
        XCTAssertEqual(delivery.messageId, "job-1")
        XCTAssertEqual(delivery.properties.correlationId, "run-7")
        XCTAssertEqual(delivery.properties.contentType, "application/json")
        XCTAssertTrue(delivery.properties.persistent)
        XCTAssertEqual(delivery.properties.headers["district.id"], "d-42")
        XCTAssertEqual(delivery.properties.headers["attempt"], 1)
        XCTAssertEqual(delivery.properties.headers["urgent"], true)
        XCTAssertFalse(delivery.redelivered)
        XCTAssertEqual(delivery.routingKey, queue)
        XCTAssertEqual(delivery.consumerTag, tag)
        try consumer.ack(delivery.deliveryTag)

        XCTAssertNil(try consumer.nextDelivery(timeout: 0.5))
        try consumer.cancel(consumerTag: tag)
        consumer.close()
        XCTAssertNil(try publisher.get(queue: queue))
        let info = try publisher.queueInfo(queue)
        XCTAssertEqual(info.messageCount, 0)
        XCTAssertEqual(info.consumerCount, 0)
    }

    func testANackedMessageIsRedelivered() throws {
        let queue = broker.queueName("nack")
        let publisher = try broker.connect()
        try publisher.declareQueue(queue)
        try publisher.enableConfirms()
        try publisher.publish(routingKey: queue, body: Array("again".utf8))

        let consumer = try broker.connect()
        try consumer.consume(queue: queue)
        let first = try XCTUnwrap(consumer.nextDelivery(timeout: 5))
        XCTAssertFalse(first.redelivered)
        try consumer.nack(first.deliveryTag, requeue: true)
        let second = try XCTUnwrap(consumer.nextDelivery(timeout: 5))
        XCTAssertTrue(second.redelivered)
        XCTAssertEqual(second.body, Array("again".utf8))
        try consumer.ack(second.deliveryTag)
        XCTAssertNil(try consumer.nextDelivery(timeout: 0.3))
    }

    func testAMessagePastItsDeliveryLimitEndsUpInTheDeadLetterQueueWithItsBodyIntact() throws {
        let work = broker.queueName("limited")
        let deadLetters = broker.queueName("dlq")
        let exchange = broker.exchangeName("dlx")
        let setup = try broker.connect()
        try setup.declareExchange(exchange, type: .direct)
        try setup.declareQueue(deadLetters)
        try setup.bindQueue(deadLetters, exchange: exchange, routingKey: "dead")
        try setup.declareQueue(
            work,
            arguments: [
                "x-queue-type": "quorum", "x-delivery-limit": 2, "x-dead-letter-exchange": .string(exchange),
                "x-dead-letter-routing-key": "dead",
            ])
        try setup.enableConfirms()
        let body: [UInt8] = Array("poison ✉︎".utf8) + [0, 255, 10]
        try setup.publish(routingKey: work, body: body, properties: AMQPMessageProperties(persistent: true))

        let consumer = try broker.connect()
        try consumer.consume(queue: work)
        var deliveries = 0
        while let delivery = try consumer.nextDelivery(timeout: 2) {
            deliveries += 1
            XCTAssertEqual(delivery.deliveryCount, deliveries == 1 ? nil : deliveries - 1)
            try consumer.nack(delivery.deliveryTag, requeue: true)
        }
        // The first delivery and two redeliveries; the third nack goes past the limit.
        XCTAssertEqual(deliveries, 3)

        let dead = try XCTUnwrap(setup.get(queue: deadLetters, autoAck: true))
        XCTAssertEqual(dead.body, body)
        XCTAssertEqual(dead.deathQueues, [work])
        XCTAssertEqual(dead.routingKey, "dead")
        XCTAssertEqual(try setup.queueInfo(work).messageCount, 0)
    }

    func testAPerMessageTTLMovesTheMessageThroughTheDeadLetterExchangeAfterTheDelay() throws {
        let holding = broker.queueName("delay")
        let work = broker.queueName("work")
        let exchange = broker.exchangeName("retry")
        let publisher = try broker.connect()
        try publisher.declareExchange(exchange, type: .direct)
        try publisher.declareQueue(work)
        try publisher.bindQueue(work, exchange: exchange, routingKey: work)
        try publisher.declareQueue(
            holding,
            arguments: ["x-dead-letter-exchange": .string(exchange), "x-dead-letter-routing-key": .string(work)])
        try publisher.enableConfirms()

        let consumer = try broker.connect()
        try consumer.consume(queue: work)
        let start = Date()
        try publisher.publish(
            routingKey: holding, body: Array("later".utf8),
            properties: AMQPMessageProperties(persistent: true, messageId: "m-1", expiration: "300"))
        let delivery = try XCTUnwrap(consumer.nextDelivery(timeout: 5))
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(waited, 0.29)
        XCTAssertLessThan(waited, 3)
        XCTAssertEqual(delivery.body, Array("later".utf8))
        XCTAssertEqual(delivery.messageId, "m-1")
        XCTAssertEqual(delivery.exchange, exchange)
        XCTAssertEqual(delivery.deathQueues, [holding])
        try consumer.ack(delivery.deliveryTag)
    }

    func testABrokerSideCloseIsConnectionLostAndTheReconnectingWrapperConsumesAgain() throws {
        let queue = broker.queueName("reconnect")
        let reconnecting = AMQPReconnectingConnection(
            configuration: try broker.configuration(name: "amqp-client-test"),
            policy: AMQPRetryPolicy(maxAttempts: 3, initialDelay: 0.1)
        ) { connection in
            try connection.declareQueue(queue)
            try connection.consume(queue: queue)
        }
        defer { reconnecting.close() }
        XCTAssertNil(try reconnecting.perform { try $0.nextDelivery(timeout: 0.1) })
        let first = try reconnecting.connection()
        try BrokerFixture.closeFromBroker(localPort: try XCTUnwrap(first.localPort))

        XCTAssertThrowsError(try first.nextDelivery(timeout: 5)) { error in
            let amqp = error as? AMQPError
            XCTAssertEqual(amqp?.code, .connectionLost)
            XCTAssertEqual(amqp?.replyCode, 320)
            XCTAssertEqual(amqp?.isTransient, true)
        }
        XCTAssertFalse(first.isOpen)
        XCTAssertThrowsError(try first.declareQueue(queue)) { error in
            XCTAssertEqual((error as? AMQPError)?.code, .connectionLost)
        }

        let publisher = try broker.connect()
        try publisher.enableConfirms()
        try publisher.publish(routingKey: queue, body: Array("after".utf8))
        let delivery = try XCTUnwrap(reconnecting.perform { try $0.nextDelivery(timeout: 5) })
        XCTAssertEqual(delivery.body, Array("after".utf8))
        XCTAssertEqual(reconnecting.generation, 2)
        try reconnecting.perform(retry: false) { try $0.ack(delivery.deliveryTag) }
    }

    func testAPerformCallRidesOverABrokerSideClose() throws {
        let queue = broker.queueName("ride")
        let reconnecting = AMQPReconnectingConnection(configuration: try broker.configuration()) { connection in
            try connection.declareQueue(queue)
            try connection.consume(queue: queue)
        }
        defer { reconnecting.close() }
        let first = try reconnecting.connection()
        try BrokerFixture.closeFromBroker(localPort: try XCTUnwrap(first.localPort))
        let publisher = try broker.connect()
        try publisher.enableConfirms()
        try publisher.publish(routingKey: queue, body: [1, 2, 3])

        let delivery = try reconnecting.perform { try $0.nextDelivery(timeout: 5) }
        XCTAssertEqual(delivery?.body, [1, 2, 3])
        XCTAssertEqual(reconnecting.generation, 2)
    }

    func testPublishingToAMissingExchangeClosesTheChannelWith404AndTheConnectionCarriesOn() throws {
        let queue = broker.queueName("after404")
        let publisher = try broker.connect()
        try publisher.enableConfirms()
        XCTAssertThrowsError(
            try publisher.publish(exchange: "test.missing.\(UUID().uuidString)", routingKey: "x", body: [1])
        ) { error in
            let amqp = error as? AMQPError
            XCTAssertEqual(amqp?.code, .channelClosed)
            XCTAssertEqual(amqp?.replyCode, 404)
            XCTAssertEqual(amqp?.isTransient, false)
            XCTAssertTrue(amqp?.description.contains("NOT_FOUND") ?? false, amqp?.description ?? "")
        }
        XCTAssertTrue(publisher.isOpen)
        try publisher.declareQueue(queue)
        try publisher.publish(routingKey: queue, body: [7])
        XCTAssertEqual(try publisher.get(queue: queue, autoAck: true)?.body, [7])
    }

    func testAnUnroutableMandatoryPublishIsReturned() throws {
        let publisher = try broker.connect()
        try publisher.enableConfirms()
        XCTAssertThrowsError(
            try publisher.publish(routingKey: "test.nobody.\(UUID().uuidString)", body: [1], mandatory: true)
        ) { error in
            XCTAssertEqual((error as? AMQPError)?.code, .publishReturned)
            XCTAssertEqual((error as? AMQPError)?.replyCode, 312)
        }
        try publisher.publish(routingKey: "test.nobody.\(UUID().uuidString)", body: [1])
    }

    func testRedeclaringAQueueWithOtherArgumentsIsAPreconditionFailure() throws {
        let queue = broker.queueName("mismatch")
        let connection = try broker.connect()
        try connection.declareQueue(queue, arguments: ["x-queue-type": "quorum"])
        XCTAssertThrowsError(try connection.declareQueue(queue, arguments: ["x-queue-type": "classic"])) { error in
            XCTAssertEqual((error as? AMQPError)?.code, .channelClosed)
            XCTAssertEqual((error as? AMQPError)?.replyCode, 406)
        }
        XCTAssertThrowsError(try connection.queueInfo("test.absent.\(UUID().uuidString)")) { error in
            XCTAssertEqual((error as? AMQPError)?.replyCode, 404)
        }
        XCTAssertEqual(try connection.queueInfo(queue).messageCount, 0)
    }

    func testPublishingWithConfirmsOnAConsumingConnectionIsRefused() throws {
        let queue = broker.queueName("mixed")
        let connection = try broker.connect()
        try connection.declareQueue(queue)
        try connection.enableConfirms()
        try connection.consume(queue: queue)
        XCTAssertThrowsError(try connection.publish(routingKey: queue, body: [1])) { error in
            XCTAssertEqual((error as? AMQPError)?.code, .protocolError)
        }
    }

    func testAWrongPasswordIsALoginFailureThatDoesNotShowThePassword() throws {
        var configuration = try broker.configuration()
        configuration.password = "wrong-secret"
        XCTAssertThrowsError(try AMQPConnection(configuration: configuration)) { error in
            let amqp = error as? AMQPError
            XCTAssertEqual(amqp?.code, .loginFailed)
            XCTAssertEqual(amqp?.replyCode, 403)
            XCTAssertEqual(amqp?.isTransient, false)
            XCTAssertFalse("\(error)".contains("wrong-secret"))
        }
    }

    func testConnectingToAClosedPortFailsFastWithConnectionFailed() throws {
        var configuration = try broker.configuration()
        configuration.port = closedPort()
        let start = Date()
        XCTAssertThrowsError(try AMQPConnection(configuration: configuration)) { error in
            XCTAssertEqual((error as? AMQPError)?.code, .connectionFailed)
            XCTAssertEqual((error as? AMQPError)?.isTransient, true)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }
}

final class AMQPHeartbeatTests: XCTestCase {
    func testAConnectionWhosePeerFellSilentIsLostOnceHeartbeatsStop() throws {
        let broker = try BrokerFixture()
        defer { broker.cleanUp() }
        let queue = broker.queueName("silent")
        var configuration = try broker.configuration()
        let proxy = try FreezableProxy(targetPort: configuration.port)
        defer { proxy.close() }
        configuration.port = proxy.port
        configuration.heartbeat = 1
        let connection = try AMQPConnection(configuration: configuration)
        try connection.declareQueue(queue)
        try connection.consume(queue: queue)
        // Longer than the heartbeat: the connection stays up while nextDelivery waits.
        XCTAssertNil(try connection.nextDelivery(timeout: 2.5))
        XCTAssertTrue(connection.isOpen)

        proxy.freeze()
        let start = Date()
        XCTAssertThrowsError(try connection.nextDelivery(timeout: 10)) { error in
            XCTAssertEqual((error as? AMQPError)?.code, .connectionLost)
            XCTAssertEqual((error as? AMQPError)?.isTransient, true)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertFalse(connection.isOpen)
    }
}
