import AMQPClient
import Foundation
import RosterCore
import RosterSupport

/// Publishes jobs and events: persistent, with publisher confirms, on a connection of its own that comes
/// back after the broker goes away. Thread-safe: a lock serializes publishes, since one AMQP connection
/// must be used from one thread at a time.
public final class Publisher: @unchecked Sendable {
    private let lock = NSLock()
    private let connection: AMQPReconnectingConnection
    public let topology: FleetTopology

    /// Does not connect until the first publish.
    ///
    /// - Parameter reconnectAttempts: connects tried before a publish fails. Defaults to 12 (about a
    ///   minute, enough for a broker restart); an operator's command wants fewer.
    public init(
        amqpURL: String, topology: FleetTopology, name: String = "rostersync-publisher", reconnectAttempts: Int = 12
    ) throws {
        var configuration = try AMQPConfiguration(url: amqpURL)
        configuration.connectionName = name
        self.topology = topology
        // Patient reconnects: a broker restart takes 10 to 30 s on a busy machine.
        connection = AMQPReconnectingConnection(
            configuration: configuration,
            policy: AMQPRetryPolicy(maxAttempts: reconnectAttempts, initialDelay: 0.5, maxDelay: 5)
        ) { connection in
            try topology.declare(on: connection)
            try connection.enableConfirms()
        }
    }

    /// Puts `job` on its queue (or on retry queue `retryIndex`), and returns once the broker has it.
    ///
    /// - Parameter retries: how many times the job was retried so far, carried in a header so that the
    ///   count survives any database trouble that caused the retry.
    public func publish(_ job: SyncJob, retryIndex: Int? = nil, retries: Int = 0) throws {
        let queue = retryIndex.map { topology.retryQueue($0) } ?? topology.queue(for: job.priority)
        try publish(
            routingKey: queue, exchange: "", body: try FleetJSON.encode(job), messageID: job.jobID,
            headers: retries > 0 ? ["x-rostersync-retries": .int(Int64(retries))] : [:])
    }

    /// Puts a job that will not be retried into the dead-letter queue, for an operator to look at.
    public func publishDead(_ job: SyncJob) throws {
        try publish(
            routingKey: "", exchange: topology.deadLetterExchange, body: FleetJSON.encode(job), messageID: job.jobID)
    }

    /// Sends `event` to the events exchange under its routing key, such as `sync.completed`.
    public func publish(_ event: SyncEvent) throws {
        try publish(
            routingKey: event.event.routingKey, exchange: topology.eventsExchange, body: FleetJSON.encode(event),
            messageID: event.jobID)
    }

    /// Declares the topology now (for `status`, tests and start-up checks).
    public func declareTopology() throws {
        lock.lock()
        defer { lock.unlock() }
        _ = try connection.connection()
    }

    /// Reads a queue's depth and consumers.
    public func queueInfo(_ name: String) throws -> AMQPQueueInfo {
        lock.lock()
        defer { lock.unlock() }
        return try connection.perform { try $0.queueInfo(name) }
    }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        connection.close()
    }

    private func publish(
        routingKey: String, exchange: String, body: Data, messageID: String, headers: [String: AMQPValue] = [:]
    ) throws {
        var properties = AMQPMessageProperties()
        properties.headers = headers
        properties.persistent = true
        properties.contentType = "application/json"
        properties.messageId = messageID
        lock.lock()
        defer { lock.unlock() }
        try connection.perform { connection in
            try connection.publish(exchange: exchange, routingKey: routingKey, body: body, properties: properties)
        }
    }
}

/// The operator's and the coordinator's way to queue a job: recorded in PostgreSQL first, so a
/// district with a job waiting or running is not queued twice, then published with a confirm.
public final class JobQueue {
    public let store: FleetStore
    public let publisher: Publisher

    public init(store: FleetStore, publisher: Publisher) {
        self.store = store
        self.publisher = publisher
    }

    public func enqueue(_ job: SyncJob) throws -> FleetStore.Reservation {
        try store.reserve(job) { try publisher.publish(job) }
    }
}
