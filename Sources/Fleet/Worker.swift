import AMQPClient
import Foundation
import RosterCore
import RosterStore
import RosterSupport

/// Takes sync jobs from the queue and runs them, up to `concurrency` at once.
///
/// A job is acknowledged only after its sync committed and its completion event was confirmed by the
/// broker, so a worker killed at any moment loses nothing: the broker hands the job to another worker,
/// and a sync is all-or-nothing in the database. The worker keeps no state between jobs.
///
/// Threads: the thread that calls `run()` owns the consumer connection (rabbitmq-c handles are not
/// shared between threads); each job runs on a Dispatch thread of its own and reports back through a
/// locked list that the consumer thread drains into acks. The consumer thread keeps polling the broker
/// every 200 ms, which also keeps the connection's heartbeats going while long jobs run.
public final class Worker: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var amqpURL: String
        public var databaseURL: String
        public var topology: FleetTopology
        /// Jobs run at once from the normal queue. Defaults to 2. One more lane is kept for the
        /// high-priority queue, so an operator's job never waits behind the nightly backlog.
        public var concurrency: Int
        /// This worker's name in events, metrics and logs. Defaults to the host name and process id.
        public var name: String
        /// Seconds a stopping worker gives running jobs to finish before handing them back. Defaults to 600.
        public var graceSeconds: Double
        /// Where to write Prometheus textfile metrics; nil writes none.
        public var metricsFile: String?

        public init(
            amqpURL: String, databaseURL: String, topology: FleetTopology = FleetTopology(), concurrency: Int = 2,
            name: String = Worker.defaultName(), graceSeconds: Double = 600, metricsFile: String? = nil
        ) {
            self.amqpURL = amqpURL
            self.databaseURL = databaseURL
            self.topology = topology
            self.concurrency = concurrency
            self.name = name
            self.graceSeconds = graceSeconds
            self.metricsFile = metricsFile
        }
    }

    /// How a job's delivery is settled once the job is over.
    enum Settlement {
        case ack
        /// Back to the queue for another worker (a stopping worker hands its jobs back).
        case requeue
        /// Malformed: to the dead-letter queue.
        case deadLetter
        /// Nothing can be said to the broker (it or the database is away); the delivery dies with the
        /// connection and comes back.
        case leave
    }

    private struct Completion {
        let generation: Int
        let tag: UInt64
        let settlement: Settlement
    }

    public let configuration: Configuration
    private let runner: any JobRunner
    private let logger: Logger
    private let stopSignal: StopSignal
    public let metrics: Metrics
    private let lock = NSLock()
    private var completions: [Completion] = []
    private var running: [UInt64: (generation: Int, jobID: String)] = [:]
    private var handingBack = false
    /// The consumer connection's generation last seen by the consumer thread, to log reconnects.
    private var lastGeneration = 0
    private static let retriesHeader = "x-rostersync-retries"

    public init(configuration: Configuration, runner: any JobRunner, logger: Logger, stopSignal: StopSignal) {
        self.configuration = configuration
        self.runner = runner
        self.logger = logger.with(["worker": configuration.name])
        self.stopSignal = stopSignal
        self.metrics = Metrics(path: configuration.metricsFile, worker: configuration.name)
    }

    public static func defaultName() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Consumes until the stop signal fires, then lets running jobs finish (or hands them back after the
    /// grace period) and returns.
    public func run() throws {
        let topology = configuration.topology
        let concurrency = configuration.concurrency
        var amqp = try AMQPConfiguration(url: configuration.amqpURL)
        amqp.connectionName = "rostersync-worker \(configuration.name)"
        // Few attempts per call: the loops below keep trying, log each failure and watch the stop signal,
        // so a worker that cannot reach the broker says so and still stops on SIGTERM.
        let consumer = AMQPReconnectingConnection(
            configuration: amqp, policy: AMQPRetryPolicy(maxAttempts: 3, initialDelay: 0.5, maxDelay: 2)
        ) { connection in
            try topology.declare(on: connection)
            _ = try connection.consume(
                queue: topology.jobsQueue, prefetch: UInt16(concurrency), consumerTag: "jobs")
            _ = try connection.consume(queue: topology.highPriorityQueue, prefetch: 1, consumerTag: "jobs.high")
        }
        let publisher = try Publisher(
            amqpURL: configuration.amqpURL, topology: topology, name: "rostersync-worker \(configuration.name) events")
        defer {
            publisher.close()
            consumer.close()
        }
        while !stopSignal.isStopped {
            do {
                _ = try consumer.connection()
                break
            } catch let error as AMQPError where error.isTransient {
                logger.warning("cannot reach the broker; trying again", metadata: ["error": error.description])
                stopSignal.sleep(2)
            }
        }
        logger.info("worker started", metadata: ["worker.concurrency": "\(concurrency)"])

        while !stopSignal.isStopped {
            try pollOnce(consumer, publisher)
        }
        try drain(consumer, publisher)
        logger.info("worker stopped")
    }

    /// One turn of the consumer loop: settle finished jobs, then wait briefly for a delivery.
    private func pollOnce(_ consumer: AMQPReconnectingConnection, _ publisher: Publisher) throws {
        settle(consumer)
        let delivery: AMQPDelivery?
        do {
            delivery = try consumer.perform { try $0.nextDelivery(timeout: 0.2) }
        } catch let error as AMQPError where error.isTransient {
            logger.warning("lost the broker; reconnecting", metadata: ["error": error.description])
            stopSignal.sleep(1)
            return
        }
        if consumer.generation != lastGeneration {
            if lastGeneration != 0 { logger.info("reconnected to the broker") }
            lastGeneration = consumer.generation
        }
        guard let delivery else { return }
        start(delivery, generation: consumer.generation, publisher)
    }

    /// Stops taking jobs, waits for running ones up to the grace period, hands back the rest.
    private func drain(_ consumer: AMQPReconnectingConnection, _ publisher: Publisher) throws {
        for tag in ["jobs", "jobs.high"] {
            _ = try? consumer.perform(retry: false) { try $0.cancel(consumerTag: tag) }
        }
        let deadline = Date().addingTimeInterval(configuration.graceSeconds)
        logger.info("stopping: waiting for running jobs", metadata: ["worker.running": "\(runningCount)"])
        while runningCount > 0 && Date() < deadline {
            settle(consumer)
            // Deliveries that arrived before the cancel are handed straight back.
            if let late = try? consumer.perform(retry: false, { try $0.nextDelivery(timeout: 0.2) }) {
                _ = try? consumer.perform(retry: false) { try $0.reject(late.deliveryTag, requeue: true) }
            }
        }
        settle(consumer)
        lock.lock()
        handingBack = true
        let left = running
        lock.unlock()
        for (tag, entry) in left where entry.generation == consumer.generation {
            logger.warning("handing a running job back to the queue", metadata: ["job.id": entry.jobID])
            _ = try? consumer.perform(retry: false) { try $0.reject(tag, requeue: true) }
        }
    }

    /// True once a stopping worker's grace period is over and its running jobs go back to the queue.
    private var isHandingBack: Bool {
        lock.lock()
        defer { lock.unlock() }
        return handingBack
    }

    private var runningCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return running.count
    }

    private func settle(_ consumer: AMQPReconnectingConnection) {
        lock.lock()
        let ready = completions
        completions.removeAll()
        lock.unlock()
        for completion in ready {
            // Tags belong to the connection that delivered them; after a reconnect the broker has already
            // put those jobs back on the queue.
            guard completion.generation == consumer.generation else { continue }
            do {
                try consumer.perform(retry: false) { connection in
                    switch completion.settlement {
                    case .ack: try connection.ack(completion.tag)
                    case .requeue: try connection.reject(completion.tag, requeue: true)
                    case .deadLetter: try connection.reject(completion.tag, requeue: false)
                    case .leave: break
                    }
                }
            } catch {
                logger.warning("could not settle a delivery", metadata: ["error": "\(error)"])
            }
        }
    }

    private func complete(_ tag: UInt64, generation: Int, _ settlement: Settlement) {
        lock.lock()
        running[tag] = nil
        if !handingBack {
            completions.append(Completion(generation: generation, tag: tag, settlement: settlement))
        }
        lock.unlock()
    }

    private func start(_ delivery: AMQPDelivery, generation: Int, _ publisher: Publisher) {
        guard let job = try? FleetJSON.decode(SyncJob.self, from: delivery.data), job.version == SyncJob.currentVersion
        else {
            logger.error("rejecting a message that is not a version 1 sync job; it goes to the dead-letter queue")
            complete(delivery.deliveryTag, generation: generation, .deadLetter)
            return
        }
        let retries = Int(delivery.properties.headers[Self.retriesHeader]?.intValue ?? 0)
        lock.lock()
        running[delivery.deliveryTag] = (generation, job.jobID)
        lock.unlock()
        DispatchQueue.global().async { [self] in
            let settlement = execute(job, retries: retries, publisher)
            complete(delivery.deliveryTag, generation: generation, settlement)
        }
    }

    /// Runs one job to its end and says how to settle its delivery.
    private func execute(_ job: SyncJob, retries: Int, _ publisher: Publisher) -> Settlement {
        let log = logger.with(["job.id": job.jobID, "district.id": job.district])
        let started = Date()
        metrics.jobStarted()
        var attempt = retries + 1
        let store = try? FleetStore(databaseURL: configuration.databaseURL)
        if let store, let record = try? store.record(of: job.jobID), record.state == "done" || record.state == "failed"
        {
            return redeliveredFinished(job, record, started: started, publisher, log)
        }
        if let store, let recorded = try? store.markRunning(job, worker: configuration.name) { attempt = recorded }
        log.info("job started", metadata: ["job.attempt": "\(attempt)"])
        do {
            // A stopping worker lets a running sync go on, fetch included, until its grace period is over.
            let outcome = try runner.run(job, logger: log) { [weak self] in self?.isHandingBack ?? true }
            let event = makeEvent(job, outcome, attempt: attempt, started: started)
            try store?.finish(
                jobID: job.jobID, state: "done", runID: outcome.report?.runID, outcome: outcome.outcome,
                error: outcome.reason)
            try publisher.publish(event)
            log.info(
                "job finished",
                metadata: [
                    "job.outcome": outcome.outcome, "run.id": outcome.report?.runID ?? "-",
                    "job.seconds": String(format: "%.2f", event.durationSeconds),
                ])
            recordMetrics(event.event.rawValue, started, outcome)
            return .ack
        } catch {
            return fail(job, error, retries: retries, attempt: attempt, started: started, store, publisher, log)
        }
    }

    /// A job that already ended comes back when its acknowledgement was lost (the broker restarted, or
    /// the worker died, after the commit). It is not run again; its event is sent again, since the first
    /// one may not have reached the broker, and the job is acknowledged.
    private func redeliveredFinished(
        _ job: SyncJob, _ record: FleetStore.JobRecord, started: Date, _ publisher: Publisher, _ log: Logger
    ) -> Settlement {
        log.info("the job already ended; sending its event again", metadata: ["job.state": record.state])
        let report = record.runID.flatMap {
            try? SyncRunStore(databaseURL: configuration.databaseURL).report(runID: $0)
        }
        let outcome = record.outcome ?? record.state
        let event = makeEvent(
            job,
            JobOutcome(event: SyncEvent.Kind(outcome: outcome), outcome: outcome, report: report, reason: record.error),
            attempt: record.attempt, started: started)
        do {
            try publisher.publish(event)
            recordMetrics("redelivered", started, nil)
            return .ack
        } catch {
            log.error("could not send the event again; the job will come back", metadata: ["error": "\(error)"])
            recordMetrics("redelivered", started, nil)
            return .leave
        }
    }

    private func fail(
        _ job: SyncJob, _ error: any Error, retries: Int, attempt: Int, started: Date, _ store: FleetStore?,
        _ publisher: Publisher, _ log: Logger
    ) -> Settlement {
        let failure = Self.failure(from: error)
        if failure.code == "stopping" || stopSignal.isStopped && failure.isTransient {
            log.info("handing the job back: the worker is stopping")
            try? store?.finish(jobID: job.jobID, state: "queued", runID: nil, outcome: "handed_back", error: nil)
            recordMetrics("handed_back", started, nil)
            return .requeue
        }
        do {
            if failure.isTransient && retries < configuration.topology.retryDelays.count {
                log.warning(
                    "job failed for a passing reason; retrying later",
                    metadata: [
                        "error": failure.description,
                        "job.retry_in_seconds": "\(configuration.topology.retryDelays[retries])",
                    ])
                try publisher.publish(job, retryIndex: retries, retries: retries + 1)
                try? store?.finish(
                    jobID: job.jobID, state: "retrying", runID: nil, outcome: "retrying", error: failure.description)
                recordMetrics("retried", started, nil)
                return .ack
            }
            log.error("job failed", metadata: ["error": failure.description])
            if failure.isTransient { try publisher.publishDead(job) }
            try? store?.finish(
                jobID: job.jobID, state: "failed", runID: nil, outcome: "failed", error: failure.description)
            let event = SyncEvent(
                event: .failed, jobID: job.jobID, runID: nil, district: job.district, outcome: "failed",
                durationSeconds: Date().timeIntervalSince(started), attempt: attempt, worker: configuration.name,
                error: failure.description)
            try publisher.publish(event)
            recordMetrics("failed", started, nil)
            return .ack
        } catch {
            log.error("could not record the job's failure; it will be delivered again", metadata: ["error": "\(error)"])
            recordMetrics("failed", started, nil)
            return .leave
        }
    }

    private func recordMetrics(_ outcome: String, _ started: Date, _ result: JobOutcome?) {
        var rows = 0
        for counts in result?.report?.counts.values.map({ $0 }) ?? [] {
            rows += counts.created + counts.updated + counts.softDeleted + counts.restored
        }
        metrics.jobFinished(
            outcome: outcome, seconds: Date().timeIntervalSince(started), pages: result?.pages ?? 0,
            requests: result?.requests ?? 0, rowsWritten: rows)
    }

    static func failure(from error: any Error) -> JobFailure {
        if let failure = error as? JobFailure { return failure }
        let transient = (error as? any TransientReporting)?.isTransient ?? false
        return JobFailure(code: "error", message: String(describing: error), isTransient: transient)
    }

    private func makeEvent(_ job: SyncJob, _ outcome: JobOutcome, attempt: Int, started: Date) -> SyncEvent {
        let report = outcome.report
        var counts: [String: [String: Int]] = [:]
        for (kind, value) in report?.counts ?? [:] {
            counts[kind] = [
                "created": value.created, "updated": value.updated, "unchanged": value.unchanged,
                "soft_deleted": value.softDeleted, "restored": value.restored,
            ]
        }
        let first = (report?.firstFindings ?? []).prefix(5).map { finding in
            SyncEvent.FindingSummary(
                code: finding.code, severity: finding.severity.rawValue,
                object: finding.objectKind.map { "\($0):\(finding.objectID ?? "")" }, message: finding.message)
        }
        return SyncEvent(
            event: outcome.event, jobID: job.jobID, runID: report?.runID, district: job.district,
            outcome: outcome.outcome, counts: counts, phases: report?.timings ?? [:],
            findings: report?.findingsBySeverity ?? [:], firstFindings: Array(first),
            durationSeconds: Date().timeIntervalSince(started), attempt: attempt, worker: configuration.name,
            error: outcome.reason)
    }
}
