import AMQPClient
import Foundation
import RosterCore

/// The fleet's queues and exchanges, all named from one prefix (default `rostersync`).
///
/// - `<prefix>.jobs` and `<prefix>.jobs.high`: durable quorum queues of `SyncJob`s. Workers consume
///   both; quorum queues in RabbitMQ 3.10 have no priorities, so "high" is a second queue whose jobs
///   are handed out alongside the normal ones instead of waiting behind the nightly backlog.
/// - A delivery limit on both: a job whose worker keeps dying (delivered `deliveryLimit` times without
///   an ack) is dead-lettered through `<prefix>.dead` into `<prefix>.jobs.dead`.
/// - `<prefix>.retry.<n>`: delay queues for transient failures. A job waits there for `retryDelays[n]`
///   seconds, then expires back into `<prefix>.jobs` through the default exchange. One queue per delay,
///   because a per-message TTL only expires at the head of a queue and would block short delays behind
///   long ones.
/// - `<prefix>.events`: the durable topic exchange of `SyncEvent`s (`sync.completed`, ...).
public struct FleetTopology: Sendable {
    public var prefix: String
    /// Deliveries of one job before it is dead-lettered. Defaults to 5.
    public var deliveryLimit: Int
    /// Seconds to wait before each retry of a job that failed for a passing reason; a job that fails once
    /// more than there are delays goes to the dead-letter queue. Defaults to 30 s, 2 min, 10 min.
    public var retryDelays: [Int]

    public init(prefix: String = "rostersync", deliveryLimit: Int = 5, retryDelays: [Int] = [30, 120, 600]) {
        self.prefix = prefix
        self.deliveryLimit = deliveryLimit
        self.retryDelays = retryDelays
    }

    public var jobsQueue: String { "\(prefix).jobs" }
    public var highPriorityQueue: String { "\(prefix).jobs.high" }
    public var deadLetterExchange: String { "\(prefix).dead" }
    public var deadLetterQueue: String { "\(prefix).jobs.dead" }
    public var eventsExchange: String { "\(prefix).events" }

    public func retryQueue(_ index: Int) -> String { "\(prefix).retry.\(index)" }

    public func queue(for priority: SyncJob.Priority) -> String {
        priority == .high ? highPriorityQueue : jobsQueue
    }

    /// Declares everything; safe to run again with the same settings.
    public func declare(on connection: AMQPConnection) throws {
        try connection.declareExchange(deadLetterExchange, type: .fanout)
        try connection.declareQueue(deadLetterQueue, arguments: ["x-queue-type": "quorum"])
        try connection.bindQueue(deadLetterQueue, exchange: deadLetterExchange, routingKey: "")
        for queue in [jobsQueue, highPriorityQueue] {
            try connection.declareQueue(
                queue,
                arguments: [
                    "x-queue-type": "quorum",
                    "x-delivery-limit": .int(Int64(deliveryLimit)),
                    "x-dead-letter-exchange": .string(deadLetterExchange),
                ])
        }
        for (index, delay) in retryDelays.enumerated() {
            try connection.declareQueue(
                retryQueue(index),
                arguments: [
                    "x-queue-type": "quorum",
                    "x-message-ttl": .int(Int64(delay) * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": .string(jobsQueue),
                ])
        }
        try connection.declareExchange(eventsExchange, type: .topic)
    }
}

/// The two priorities an operator can ask for.
