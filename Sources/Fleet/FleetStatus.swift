import Foundation
import PostgresClient
import RosterCore

/// What `rostersync status` shows: each district's last run and open job, and the queues.
public struct FleetStatus: Codable, Sendable {
    public struct District: Codable, Sendable {
        public var district: String
        public var status: String
        public var paused: Bool
        public var lastRun: String?
        public var lastOutcome: String?
        public var lastFinishedAt: Date?
        public var ageSeconds: Double?
        public var openJob: String?
        public var openJobState: String?

        enum CodingKeys: String, CodingKey {
            case district, status, paused
            case lastRun = "last_run"
            case lastOutcome = "last_outcome"
            case lastFinishedAt = "last_finished_at"
            case ageSeconds = "age_seconds"
            case openJob = "open_job"
            case openJobState = "open_job_state"
        }
    }

    public struct Queue: Codable, Sendable {
        public var name: String
        public var messages: Int
        public var consumers: Int
    }

    public var districts: [District]
    public var queues: [Queue]
    /// Why the queues could not be read (the broker is down or unreachable); the districts come from the
    /// database and are shown all the same, since that is when an operator needs them most.
    public var queuesError: String?

    enum CodingKeys: String, CodingKey {
        case districts, queues
        case queuesError = "queues_error"
    }

    public static func read(databaseURL: String, amqpURL: String, topology: FleetTopology) throws -> FleetStatus {
        let connection = try PostgresConnection(url: databaseURL)
        let rows = try connection.query(
            """
            SELECT d.clever_id, d.status, d.paused, r.id::text AS run_id, r.outcome, r.finished_at,
                   extract(epoch FROM now() - r.finished_at)::float8 AS age, j.job_id, j.state AS job_state
            FROM districts d
            LEFT JOIN LATERAL (
                SELECT id, outcome, finished_at FROM sync_runs WHERE account_id = d.account_id
                ORDER BY id DESC LIMIT 1) r ON true
            LEFT JOIN LATERAL (
                SELECT job_id, state FROM sync_jobs
                WHERE district_clever_id = d.clever_id AND state IN ('queued', 'running', 'retrying')
                LIMIT 1) j ON true
            ORDER BY d.clever_id
            """)
        let districts = try rows.map { row in
            District(
                district: try row.string("clever_id"), status: try row.string("status"), paused: try row.bool("paused"),
                lastRun: try row.optionalString("run_id"), lastOutcome: try row.optionalString("outcome"),
                lastFinishedAt: try row.optionalDate("finished_at"),
                ageSeconds: try row.optionalString("age").flatMap(Double.init),
                openJob: try row.optionalString("job_id"),
                openJobState: try row.optionalString("job_state"))
        }
        do {
            return FleetStatus(districts: districts, queues: try readQueues(amqpURL: amqpURL, topology: topology))
        } catch {
            return FleetStatus(districts: districts, queues: [], queuesError: "\(error)")
        }
    }

    private static func readQueues(amqpURL: String, topology: FleetTopology) throws -> [Queue] {
        let publisher = try Publisher(
            amqpURL: amqpURL, topology: topology, name: "rostersync-status", reconnectAttempts: 3)
        defer { publisher.close() }
        var queues: [Queue] = []
        for name in [topology.jobsQueue, topology.highPriorityQueue]
            + topology.retryDelays.indices.map(topology.retryQueue) + [topology.deadLetterQueue]
        {
            let info = try publisher.queueInfo(name)
            queues.append(Queue(name: name, messages: info.messageCount, consumers: info.consumerCount))
        }
        return queues
    }

    public func json() -> String {
        String(decoding: (try? FleetJSON.encode(self)) ?? Data(), as: UTF8.self)
    }

    public func table() -> String {
        var lines = ["district                  status                     last run  outcome       age       open job"]
        for district in districts {
            let age = district.ageSeconds.map(Self.age) ?? "-"
            let open = district.openJob.map { "\($0) (\(district.openJobState ?? ""))" } ?? "-"
            let status = district.status + (district.paused ? " (paused)" : "")
            lines.append(
                [
                    pad(district.district, 24), pad(status, 25), pad(district.lastRun ?? "-", 8),
                    pad(district.lastOutcome ?? "never", 12), pad(age, 8), open,
                ].joined(separator: "  "))
        }
        lines.append("")
        if let queuesError {
            lines.append("queues: unavailable (\(queuesError))")
            return lines.joined(separator: "\n")
        }
        lines.append("queue                             messages  consumers")
        for queue in queues {
            lines.append("\(pad(queue.name, 32))  \(pad(String(queue.messages), 8))  \(queue.consumers)")
        }
        return lines.joined(separator: "\n")
    }

    static func age(_ seconds: Double) -> String {
        switch seconds {
        case ..<120: return "\(Int(seconds))s"
        case ..<7200: return "\(Int(seconds / 60))m"
        case ..<172_800: return "\(Int(seconds / 3600))h"
        default: return "\(Int(seconds / 86400))d"
        }
    }

}
