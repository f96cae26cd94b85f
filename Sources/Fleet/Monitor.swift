import AMQPClient
import Foundation
import RosterCore
import RosterSupport

/// Follows completion events as they happen, on a private queue bound to the events exchange that goes
/// away with the monitor.
///
/// A lost broker connection is made again (for about two minutes of attempts) with a new private queue;
/// events published while the monitor was away are not kept for it, and `reconnects` tells how often that
/// happened.
public final class Monitor {
    private let connection: AMQPReconnectingConnection

    /// Connects, declares the topology and binds a fresh queue to `sync.*`.
    public init(amqpURL: String, topology: FleetTopology) throws {
        var configuration = try AMQPConfiguration(url: amqpURL)
        configuration.connectionName = "rostersync-monitor"
        connection = AMQPReconnectingConnection(
            configuration: configuration, policy: AMQPRetryPolicy(maxAttempts: 30, maxDelay: 5)
        ) { connection in
            try topology.declare(on: connection)
            let queue = try connection.declareQueue("", durable: false, exclusive: true, autoDelete: true).name
            try connection.bindQueue(queue, exchange: topology.eventsExchange, routingKey: "sync.*")
            _ = try connection.consume(queue: queue, prefetch: 50)
        }
        _ = try connection.connection()
    }

    /// How many times the connection was lost and made again.
    public var reconnects: Int { max(0, connection.generation - 1) }

    /// The next event, or nil when none came within `timeout` seconds. Malformed messages are skipped.
    public func next(timeout: Double) throws -> SyncEvent? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let wait = min(0.5, max(0.01, deadline.timeIntervalSinceNow))
            guard let delivery = try connection.perform({ try $0.nextDelivery(timeout: wait) }) else { continue }
            // An ack lost with its connection does not matter: the private queue went with it.
            _ = try? connection.perform(retry: false) { try $0.ack(delivery.deliveryTag) }
            if let event = try? FleetJSON.decode(SyncEvent.self, from: delivery.data) { return event }
        }
        return nil
    }

    public func close() {
        connection.close()
    }

    /// One line of the readable table.
    public static func tableRow(_ event: SyncEvent) -> String {
        let time = String(FleetJSON.iso8601(event.finishedAt).prefix(19)).replacingOccurrences(of: "T", with: " ")
        let students = event.counts["students"] ?? [:]
        let changes = [
            "+\(students["created"] ?? 0)", "~\(students["updated"] ?? 0)", "-\(students["soft_deleted"] ?? 0)",
            "↺\(students["restored"] ?? 0)",
        ].joined(separator: " ")
        let findings = ["error", "warning", "info"].map { "\(event.findings[$0] ?? 0)" }.joined(separator: "/")
        return [
            time, pad(event.district, 24), pad(event.outcome, 12), pad(changes, 22), pad(findings, 11),
            String(format: "%8.1fs", event.durationSeconds), event.error ?? "",
        ].joined(separator: "  ")
    }

    public static let tableHeader = [
        pad("finished (UTC)", 19), pad("district", 24), pad("outcome", 12), pad("students +new ~chg -del ↺back", 22),
        pad("err/warn/info", 11), pad("duration", 9), "reason",
    ].joined(separator: "  ")

}
