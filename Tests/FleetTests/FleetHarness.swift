import Fleet
import Foundation
import PostgresClient
import RosterCore
import RosterStore
import RosterSupport
import RosterTestSupport

/// A fleet for one test: its own database, its own queue names on the shared broker, a Clever stand-in,
/// and workers run as real `rostersync worker` processes.
final class FleetHarness {
    let database: TestDatabase
    let topology: FleetTopology
    let standin: CleverStandin
    let amqpURL: String
    var workers: [RosterProcess] = []
    let logger = Logger(label: "fleet-test", level: .warning)

    init(datasets: [URL]? = nil, standinArguments: [String] = [], retryDelays: [Int] = [1, 1]) throws {
        database = try TestDatabase(prefix: "fleet")
        try RosterStore.migrate(url: database.url)
        amqpURL = try TestEnvironment.amqpURL()
        topology = FleetTopology(
            prefix: "test-\(UUID().uuidString.prefix(8).lowercased())", deliveryLimit: 5, retryDelays: retryDelays)
        standin = try CleverStandin(datasets: datasets, arguments: ["--rate-limit", "100000"] + standinArguments)
    }

    /// What every `rostersync` child process of this fleet needs.
    var environment: [String: String] {
        [
            "ROSTERSYNC_DATABASE_URL": database.url, "ROSTERSYNC_AMQP_URL": amqpURL,
            "ROSTERSYNC_QUEUE_PREFIX": topology.prefix,
            "ROSTERSYNC_RETRY_DELAYS": topology.retryDelays.map(String.init).joined(separator: ","),
            "ROSTERSYNC_CLEVER_URL": standin.url, "ROSTERSYNC_CLEVER_OAUTH_URL": standin.url,
            "ROSTERSYNC_CLEVER_CLIENT_ID": CleverStandin.clientID,
            "ROSTERSYNC_CLEVER_CLIENT_SECRET": CleverStandin.clientSecret, "ROSTERSYNC_LOG_LEVEL": "info",
        ]
    }

    func addDistrict(_ cleverID: String, licenses: Int = 100_000, extra: DistrictSettingsChange = .init()) throws {
        var settings = extra
        if settings.licenses == nil { settings.licenses = .some(licenses) }
        settings.schools = settings.schools ?? .all
        settings.grades = settings.grades ?? .all
        try DistrictDirectory(databaseURL: database.url).add(cleverID: cleverID, name: "District \(cleverID)", settings)
    }

    @discardableResult
    func startWorker(name: String, concurrency: Int = 2, extra: [String] = []) throws -> RosterProcess {
        let worker = try RosterProcess(
            ["worker", "--concurrency", String(concurrency), "--name", name, "--grace-seconds", "30"] + extra,
            environment: environment)
        workers.append(worker)
        return worker
    }

    func publisher() throws -> Publisher {
        try Publisher(amqpURL: amqpURL, topology: topology, name: "fleet-test")
    }

    func enqueue(_ district: String, priority: SyncJob.Priority = .normal) throws -> SyncJob {
        let publisher = try publisher()
        defer { publisher.close() }
        let job = SyncJob(district: district, priority: priority, trigger: .operator_)
        let queue = JobQueue(store: try FleetStore(databaseURL: database.url), publisher: publisher)
        guard try queue.enqueue(job) == .reserved else { throw HarnessError("job for \(district) not reserved") }
        return job
    }

    func monitor() throws -> Monitor {
        try Monitor(amqpURL: amqpURL, topology: topology)
    }

    /// Collects `count` events, or fewer if `timeout` passes first.
    func events(_ monitor: Monitor, count: Int, timeout: Double) throws -> [SyncEvent] {
        var events: [SyncEvent] = []
        let deadline = Date().addingTimeInterval(timeout)
        while events.count < count, Date() < deadline {
            if let event = try monitor.next(timeout: 0.5) { events.append(event) }
        }
        return events
    }

    func scalar(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int {
        let connection = try database.connect()
        return try connection.query(sql, parameters).first!.int("n")
    }

    func jobState(_ jobID: String) throws -> String? {
        try database.connect().query("SELECT state FROM sync_jobs WHERE job_id = $1", [jobID]).first?
            .optionalString("state")
    }

    func tearDown() {
        for worker in workers where worker.process.isRunning { worker.kill() }
        standin.stop()
        if let connection = try? publisher() {
            connection.close()
        }
        deleteTopology()
        database.drop()
    }

    private func deleteTopology() {
        guard let connection = try? AMQPConnectionForCleanup(url: amqpURL) else { return }
        connection.delete(topology)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
