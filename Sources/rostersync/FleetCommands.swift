import CleverClient
import Fleet
import Foundation
import RosterCore
import RosterStore
import RosterSupport

/// `coordinator`, `worker`, `enqueue`, `monitor` and `status`: the fleet around the one-district sync.
enum FleetCommands {
    static let all: [Command] = [
        Command(
            path: ["coordinator"], usage: "coordinator [--once] [--tick-seconds 30] [--queue-prefix rostersync]",
            summary: "Queue every eligible district's sync at 21:00 America/Los_Angeles",
            booleanFlags: ["once"]
        ) { arguments, logger in
            let urls = try FleetURLs(&arguments)
            let topology = try topology(&arguments)
            let once = arguments.flag("once")
            let tick = try arguments.double("tick-seconds", default: 30)!
            guard tick > 0 else { throw UsageError("--tick-seconds must be more than 0") }
            let clever = try CleverConfiguration.read(&arguments)
            try arguments.finish()
            let coordinator = Coordinator(
                configuration: .init(
                    databaseURL: urls.database, amqpURL: urls.amqp, topology: topology, tickSeconds: tick),
                authorizedDistricts: {
                    Set(try CleverOAuth(configuration: clever, logger: logger).listDistrictTokens().map(\.districtID))
                }, logger: logger)
            if once {
                let fired = try coordinator.tick()
                print(fired.map { "fired slot \($0.slot): \($0.jobs) jobs queued" } ?? "no slot due")
                return 0
            }
            let stop = StopSignal()
            stop.install()
            coordinator.run(until: stop)
            return 0
        },
        Command(
            path: ["worker"],
            usage: "worker [--concurrency 2] [--name NAME] [--grace-seconds 600] [--metrics-file PATH] "
                + "[--queue-prefix rostersync]",
            summary: "Take sync jobs from the queue and run them"
        ) { arguments, logger in
            let urls = try FleetURLs(&arguments)
            let topology = try topology(&arguments)
            let concurrency = try arguments.int("concurrency", env: "ROSTERSYNC_WORKER_CONCURRENCY", default: 2)!
            guard concurrency >= 1 else { throw UsageError("--concurrency must be at least 1") }
            let name = arguments.string("name", env: "ROSTERSYNC_WORKER_NAME") ?? Worker.defaultName()
            let grace = try arguments.double("grace-seconds", env: "ROSTERSYNC_WORKER_GRACE_SECONDS", default: 600)!
            guard grace >= 0 else { throw UsageError("--grace-seconds must not be negative") }
            let metrics = arguments.string("metrics-file", env: "ROSTERSYNC_METRICS_FILE")
            let clever = try CleverConfiguration.read(&arguments)
            try arguments.finish()
            let stop = StopSignal()
            stop.install()
            let worker = Worker(
                configuration: .init(
                    amqpURL: urls.amqp, databaseURL: urls.database, topology: topology, concurrency: concurrency,
                    name: name, graceSeconds: grace, metricsFile: metrics),
                runner: DistrictJobRunner(databaseURL: urls.database, clever: clever), logger: logger,
                stopSignal: stop)
            try worker.run()
            return 0
        },
        Command(
            path: ["enqueue"], usage: "enqueue --district CLEVER_ID [--dry-run] [--priority normal|high]",
            summary: "Queue a sync of one district now; prints the job id", booleanFlags: ["dry-run"]
        ) { arguments, logger in
            let urls = try FleetURLs(&arguments)
            let topology = try topology(&arguments)
            let district = try arguments.required("district")
            let dryRun = arguments.flag("dry-run")
            let priorityName = arguments.string("priority") ?? "normal"
            guard let priority = SyncJob.Priority(rawValue: priorityName) else {
                throw UsageError("--priority takes normal or high")
            }
            try arguments.finish()
            try checkEnqueueable(district, databaseURL: urls.database)
            let job = SyncJob(district: district, dryRun: dryRun, priority: priority, trigger: .operator_)
            let publisher = try Publisher(
                amqpURL: urls.amqp, topology: topology, name: "rostersync-enqueue", reconnectAttempts: 3)
            defer { publisher.close() }
            let queue = JobQueue(store: try FleetStore(databaseURL: urls.database), publisher: publisher)
            switch try queue.enqueue(job) {
            case .reserved:
                print(job.jobID)
                return 0
            case .alreadyOpen(let jobID):
                FileHandle.standardError.write(
                    Data("rostersync: district \(district) already has job \(jobID) waiting or running\n".utf8))
                print(jobID)
                return 3
            case .alreadyInSlot:
                return 3
            }
        },
        Command(
            path: ["monitor"],
            usage: "monitor [--json] [--job JOB_ID] [--count N] [--timeout SECONDS] [--queue-prefix rostersync]",
            summary: "Follow completion events live", booleanFlags: ["json"]
        ) { arguments, logger in
            let amqpURL = try arguments.required("amqp-url", env: "ROSTERSYNC_AMQP_URL")
            let topology = try topology(&arguments)
            let json = arguments.flag("json")
            let job = arguments.string("job")
            let count = try arguments.int("count")
            let timeout = try arguments.double("timeout")
            if let timeout, timeout <= 0 { throw UsageError("--timeout must be more than 0 seconds") }
            try arguments.finish()
            let monitor = try Monitor(amqpURL: amqpURL, topology: topology)
            defer { monitor.close() }
            let stop = StopSignal()
            stop.install()
            FileHandle.standardError.write(Data("monitor: listening for sync events\n".utf8))
            if !json { print(Monitor.tableHeader) }
            var seen = 0
            var reconnects = 0
            let deadline = timeout.map { Date().addingTimeInterval($0) }
            while !stop.isStopped {
                if monitor.reconnects != reconnects {
                    reconnects = monitor.reconnects
                    FileHandle.standardError.write(
                        Data("monitor: reconnected to the broker; events sent while away were missed\n".utf8))
                }
                if let deadline, Date() >= deadline {
                    FileHandle.standardError.write(Data("monitor: no more events within the timeout\n".utf8))
                    return 4
                }
                guard let event = try monitor.next(timeout: 0.5) else { continue }
                if let job, event.jobID != job { continue }
                if json {
                    print(String(decoding: try FleetJSON.encode(event), as: UTF8.self))
                } else {
                    print(Monitor.tableRow(event))
                }
                fflush(nil)
                seen += 1
                if let count, seen >= count { break }
            }
            return 0
        },
        Command(
            path: ["status"], usage: "status [--json] [--queue-prefix rostersync]",
            summary: "Each district's last run, and the queue's depth and consumers", booleanFlags: ["json"]
        ) { arguments, logger in
            let urls = try FleetURLs(&arguments)
            let topology = try topology(&arguments)
            let json = arguments.flag("json")
            try arguments.finish()
            let status = try FleetStatus.read(databaseURL: urls.database, amqpURL: urls.amqp, topology: topology)
            print(json ? status.json() : status.table())
            return 0
        },
    ]

    struct FleetURLs {
        let database: String
        let amqp: String

        init(_ arguments: inout Arguments) throws {
            database = try arguments.required("database-url", env: "ROSTERSYNC_DATABASE_URL")
            amqp = try arguments.required("amqp-url", env: "ROSTERSYNC_AMQP_URL")
        }
    }

    /// `--queue-prefix` (default `rostersync`, or `ROSTERSYNC_QUEUE_PREFIX`): lets several fleets share a
    /// broker.
    static func topology(_ arguments: inout Arguments) throws -> FleetTopology {
        let prefix = arguments.string("queue-prefix", env: "ROSTERSYNC_QUEUE_PREFIX") ?? "rostersync"
        guard !prefix.isEmpty, prefix.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw UsageError("--queue-prefix takes letters, digits, '-', '_' and '.'")
        }
        var topology = FleetTopology(prefix: prefix)
        if let delays = arguments.string("retry-delays", env: "ROSTERSYNC_RETRY_DELAYS") {
            let values = delays.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.count == delays.split(separator: ",").count, values.allSatisfy({ $0 > 0 })
            else { throw UsageError("--retry-delays takes whole seconds separated by commas, such as 30,120,600") }
            topology.retryDelays = values
        }
        return topology
    }

    /// Refuses, with a reason, a district that cannot be synced now.
    static func checkEnqueueable(_ district: String, databaseURL: String) throws {
        let directory = try DistrictDirectory(databaseURL: databaseURL)
        let settings: DistrictSettings
        do {
            settings = try directory.settings(district)
        } catch let error as SyncError where error.code == .districtNotFound {
            throw UsageError(
                "no district account is connected to Clever district \(district); only district accounts sync "
                    + "from Clever (add one with rostersync district add)")
        }
        if settings.paused {
            throw UsageError("district \(district) is paused; resume it with district set --paused off")
        }
        if settings.status == .pending || settings.status == .disconnectedRevoked {
            throw UsageError("district \(district) is \(settings.status.rawValue) and cannot sync")
        }
    }
}
