import Foundation
import PostgresClient
import RosterCore
import RosterSupport

/// Puts one job per eligible district on the queue at each nightly slot.
///
/// Several coordinators may run for availability: the one holding a PostgreSQL advisory lock is the
/// leader and the only one that fires; the others wait for the lock. Slots are recorded in
/// `nightly_slots` before their jobs are queued, so a restart in the middle of a window resumes the same
/// slot, and a slot is never fired twice; each district gets at most one job per slot.
public final class Coordinator {
    public struct Configuration: Sendable {
        public var databaseURL: String
        public var amqpURL: String
        public var topology: FleetTopology
        public var schedule: NightlySchedule
        /// Seconds between looks at the clock. Defaults to 30.
        public var tickSeconds: Double
        public var name: String

        public init(
            databaseURL: String, amqpURL: String, topology: FleetTopology = FleetTopology(),
            schedule: NightlySchedule = .pacificNine, tickSeconds: Double = 30,
            name: String = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        ) {
            self.databaseURL = databaseURL
            self.amqpURL = amqpURL
            self.topology = topology
            self.schedule = schedule
            self.tickSeconds = tickSeconds
            self.name = name
        }
    }

    /// The Clever ids of the districts that authorized the app, from Clever's token list.
    public typealias AuthorizedDistricts = () throws -> Set<String>

    static let leaderLockKey: Int64 = 0x5253_434F_4F52_4431

    public let configuration: Configuration
    private let authorizedDistricts: AuthorizedDistricts
    private let clock: () -> Date
    private let logger: Logger
    private var leaderConnection: PostgresConnection?

    /// - Parameters:
    ///   - clock: the current time; tests pass a fake one. Defaults to the system clock.
    public init(
        configuration: Configuration, authorizedDistricts: @escaping AuthorizedDistricts,
        clock: @escaping () -> Date = Date.init, logger: Logger
    ) {
        self.configuration = configuration
        self.authorizedDistricts = authorizedDistricts
        self.clock = clock
        self.logger = logger.with(["coordinator": configuration.name])
    }

    /// Ticks until `stop` fires.
    public func run(until stop: StopSignal) {
        logger.info(
            "coordinator started",
            metadata: ["schedule.next": FleetJSON.iso8601(configuration.schedule.nextSlot(after: clock()).due)])
        while !stop.isStopped {
            do {
                _ = try tick()
            } catch {
                logger.error("coordinator tick failed; trying again", metadata: ["error": "\(error)"])
                leaderConnection = nil
            }
            stop.sleep(configuration.tickSeconds)
        }
        leaderConnection = nil
        logger.info("coordinator stopped")
    }

    /// Whether this coordinator holds the leader lock (taking it if free).
    public func isLeader() throws -> Bool {
        if let leaderConnection, leaderConnection.isConnected { return true }
        let connection = try PostgresConnection(url: configuration.databaseURL)
        guard try connection.tryAdvisoryLock(Self.leaderLockKey) else { return false }
        logger.info("this coordinator is now the one that fires")
        leaderConnection = connection
        return true
    }

    /// Looks at the clock once and fires the due slot, if any.
    /// - Returns: the slot fired (or resumed) and the number of jobs queued, or nil.
    @discardableResult
    public func tick() throws -> (slot: String, jobs: Int)? {
        guard try isLeader() else { return nil }
        let store = try FleetStore(databaseURL: configuration.databaseURL)
        let fired = Set(try store.recentSlots().filter { $0.state == "fired" }.map(\.slot))
        guard let slot = configuration.schedule.slotToFire(at: clock(), alreadyFired: fired) else { return nil }
        let authorized = try authorizedDistricts()
        guard try store.beginSlot(slot.localDate, coordinator: configuration.name) else { return nil }
        let publisher = try Publisher(
            amqpURL: configuration.amqpURL, topology: configuration.topology, name: "rostersync-coordinator")
        defer { publisher.close() }
        let queue = JobQueue(store: store, publisher: publisher)
        var queued = 0
        for district in try store.eligibleDistricts(localDate: slot.localDate, addedBy: slot.due) {
            guard authorized.contains(district) else {
                logger.warning(
                    "district is not in Clever's token list; not queued", metadata: ["district.id": district])
                continue
            }
            let job = SyncJob(district: district, trigger: .schedule, slot: slot.localDate)
            switch try queue.enqueue(job) {
            case .reserved:
                queued += 1
            case .alreadyOpen(let jobID):
                logger.info(
                    "district already has a job waiting or running; not queued again",
                    metadata: ["district.id": district, "job.id": jobID])
            case .alreadyInSlot:
                continue
            }
        }
        try store.finishSlot(slot.localDate, jobs: queued)
        logger.info("nightly slot fired", metadata: ["schedule.slot": slot.localDate, "jobs.queued": "\(queued)"])
        return (slot.localDate, queued)
    }
}
