import Foundation
import RosterCore
import RosterSupport
import RosterTestSupport
import XCTest

@testable import CleverClient

final class CleverFetcherTests: XCTestCase {
    private var standin: CleverStandin?

    override func tearDown() {
        standin?.stop()
        standin = nil
    }

    func testDemoDistrictArrivesWithExactCountsAndFilledStats() throws {
        let standin = try start()
        let started = Date()
        let (tally, stats) = try fetch(configuration(standin))
        let seconds = Date().timeIntervalSince(started)
        print("fetched the demo district in \(String(format: "%.3f", seconds)) s: \(stats)")

        tally.assertDemoCounts()
        XCTAssertEqual(tally.districts, ["5a0c91b95c7cc000010d417c"])
        XCTAssertEqual(tally.contacts, 0, "the fetcher leaves contacts out")
        XCTAssertGreaterThan(stats.pages, 0)
        XCTAssertGreaterThanOrEqual(stats.requests, stats.pages)
        XCTAssertEqual(stats.retries, 0)
        XCTAssertEqual(stats.records, tally.recordsSeen)
        XCTAssertGreaterThan(stats.bytes, 1_000_000)
        XCTAssertGreaterThan(stats.decodeSeconds, 0)
    }

    func testPageSizeOfTwoGivesTheSameCounts() throws {
        let standin = try start(["--rate-limit", "100000"])
        var settings = configuration(standin)
        settings.pageSize = 2
        settings.requestsPerMinute = 100_000
        let (tally, stats) = try fetch(settings)
        tally.assertDemoCounts()
        XCTAssertGreaterThan(stats.requests, 550)
    }

    func testDistrictWideCursorsGiveTheSameCountsAsPerSchoolOnes() throws {
        let standin = try start()
        var settings = configuration(standin)
        settings.schoolSplitMinimum = 1_000
        settings.pageSize = 500
        let (tally, _) = try fetch(settings)
        tally.assertDemoCounts()
        XCTAssertEqual(tally.recordsSeen, 1 + 3 + 5 + 378 + 1_004 + 89 + 3, "no duplicates without the school split")
    }

    func testPageSizeAboveTheMaximumIsHalvedAfterA413() throws {
        let standin = try start()
        var settings = configuration(standin)
        settings.pageSize = 20_000
        let (tally, _) = try fetch(settings)
        tally.assertDemoCounts()
        XCTAssertGreaterThan(try standin.statusCount(413), 0)
    }

    func testEveryFaultButMutationAtOnceStillGivesExactCounts() throws {
        let standin = try start([
            "--fail-rate", "0.2", "--burst-429", "15", "--drop-rate", "0.1", "--latency-ms", "10", "--seed", "7",
        ])
        let (tally, stats) = try fetch(faultTolerant(standin))
        tally.assertDemoCounts()
        XCTAssertGreaterThan(try standin.faultCount("fail"), 0)
        XCTAssertGreaterThan(try standin.faultCount("burst_429"), 0)
        XCTAssertGreaterThan(try standin.faultCount("dropped"), 0)
        XCTAssertGreaterThan(try standin.faultCount("delayed"), 0)
        XCTAssertGreaterThan(stats.retries, 0)
    }

    func testRecordsChangingWhilePagingLoseNoRecordThatStayed() throws {
        let standin = try start([
            "--fail-rate", "0.2", "--burst-429", "15", "--drop-rate", "0.1", "--latency-ms", "10", "--seed", "11",
            "--mutate-while-paging",
        ])
        let (tally, _) = try fetch(faultTolerant(standin))
        let removed = try standin.faultCount("mutation_removed")
        XCTAssertGreaterThan(removed, 0)

        let original = try DemoDistrict.userIDs()
        let missing = original.subtracting(tally.userIDs)
        // Faults off for the look-ups, but not reset: a reset would put the removed users back.
        try standin.setFaults([
            "fail_rate": 0, "drop_rate": 0, "burst_429": 0, "latency_ms": 0, "mutate_while_paging": false,
        ])
        XCTAssertLessThanOrEqual(missing.count, removed)
        for id in missing {
            XCTAssertEqual(try standin.get("/v3.0/users/\(id)").status, 404, "user \(id) was lost, not deleted")
        }
        XCTAssertEqual(Set(tally.sections.keys), try DemoDistrict.sectionIDs())
    }

    func testRevokedTokenFailsFastWithoutRetrying() throws {
        let standin = try start(["--revoke-after", "3"])
        var settings = configuration(standin)
        settings.pageSize = 50
        XCTAssertThrowsError(try fetch(settings)) { error in
            XCTAssertEqual((error as? CleverError)?.code, .authorizationRevoked)
            XCTAssertEqual((error as? CleverError)?.isTransient, false)
            XCTAssertFalse("\(error)".contains(CleverStandin.demoToken))
        }
        // Each thread may have had one request on the wire when the first 401 came; none tried again.
        XCTAssertLessThanOrEqual(try standin.statusCount(401), settings.maxConnections)
        XCTAssertLessThanOrEqual(try standin.stats()["requests"] as? Int ?? 0, 3 + settings.maxConnections)
    }

    func testThrowingConsumerStopsTheFetchAndItsErrorComesBack() throws {
        struct Enough: Error {}
        let standin = try start(["--rate-limit", "100000"])
        var settings = configuration(standin)
        settings.pageSize = 2
        settings.requestsPerMinute = 100_000
        let fetcher = CleverFetcher(token: CleverStandin.demoToken, configuration: settings, logger: quietLogger)
        var batches = 0
        XCTAssertThrowsError(
            try fetcher.fetchAll { _ in
                batches += 1
                if batches == 3 { throw Enough() }
            }
        ) { error in
            XCTAssertTrue(error is Enough)
        }
        XCTAssertEqual(batches, 3)
        let requests = try standin.stats()["requests"] as? Int ?? 0
        XCTAssertLessThan(requests, 100, "the whole district at 2 per page takes over 550 requests")
    }

    func testUnreachableCleverIsUnavailableAfterTheRetries() throws {
        var settings = CleverConfiguration()
        settings.apiURL = "http://127.0.0.1:9"
        settings.retryAttempts = 2
        settings.backoffBase = 0.01
        XCTAssertThrowsError(try fetch(settings)) { error in
            XCTAssertEqual((error as? CleverError)?.code, .unavailable)
            XCTAssertEqual((error as? CleverError)?.isTransient, true)
        }
    }

    func testLimitIsSetOnNextLinks() {
        XCTAssertEqual(
            CleverFetcher.uri("/v3.0/users?limit=10000&starting_after=abc&role=student", limit: 5000),
            "/v3.0/users?limit=5000&starting_after=abc&role=student")
        XCTAssertEqual(CleverFetcher.uri("/v3.0/schools", limit: 2), "/v3.0/schools?limit=2")
    }

    // MARK: Helpers

    private func start(_ arguments: [String] = []) throws -> CleverStandin {
        let started = try CleverStandin(arguments: arguments)
        standin = started
        return started
    }

    private func configuration(_ standin: CleverStandin) -> CleverConfiguration {
        var settings = CleverConfiguration()
        settings.apiURL = standin.url
        settings.oauthURL = standin.url
        return settings
    }

    private func faultTolerant(_ standin: CleverStandin) -> CleverConfiguration {
        var settings = configuration(standin)
        settings.pageSize = 100
        settings.retryAttempts = 12
        settings.backoffBase = 0.02
        settings.backoffCap = 0.2
        return settings
    }

    private var quietLogger: Logger { Logger(label: "test", level: .warning) }

    private func fetch(_ settings: CleverConfiguration) throws -> (Tally, CleverFetchStats) {
        let fetcher = CleverFetcher(token: CleverStandin.demoToken, configuration: settings, logger: quietLogger)
        var tally = Tally()
        let stats = try fetcher.fetchAll { tally.add($0) }
        return (tally, stats)
    }
}

/// What a fetch delivered, with users and sections counted once each by id.
struct Tally {
    var districts: Set<String> = []
    var schools: Set<String> = []
    var terms: Set<String> = []
    var sections: [String: CleverSection] = [:]
    var users: [String: CleverUser] = [:]
    var recordsSeen = 0

    mutating func add(_ batch: CleverBatch) {
        recordsSeen += batch.count
        switch batch {
        case .districts(let records): districts.formUnion(records.map(\.id))
        case .schools(let records): schools.formUnion(records.map(\.id))
        case .terms(let records): terms.formUnion(records.map(\.id))
        case .sections(let records): for section in records { sections[section.id] = section }
        case .users(let records): for user in records { users[user.id] = user }
        }
    }

    var userIDs: Set<String> { Set(users.keys) }
    var students: Int { users.values.filter { $0.roles.student != nil }.count }
    var teachers: Int { users.values.filter { $0.roles.teacher != nil }.count }
    var districtAdmins: Int { users.values.filter { $0.roles.districtAdmin != nil }.count }
    var contacts: Int { users.values.filter { $0.roles.contact != nil }.count }
    var studentEnrollments: Int { sections.values.reduce(0) { $0 + $1.students.count } }

    func assertDemoCounts(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(districts.count, 1, file: file, line: line)
        XCTAssertEqual(schools.count, 3, file: file, line: line)
        XCTAssertEqual(terms.count, 5, file: file, line: line)
        XCTAssertEqual(sections.count, 378, file: file, line: line)
        XCTAssertEqual(studentEnrollments, 8_954, file: file, line: line)
        XCTAssertEqual(students, 1_004, file: file, line: line)
        XCTAssertEqual(teachers, 89, file: file, line: line)
        XCTAssertEqual(districtAdmins, 3, file: file, line: line)
        XCTAssertEqual(users.count, 1_004 + 89 + 3, file: file, line: line)
    }
}

/// The demo district's own files, read directly, as the truth to compare a fetch with.
enum DemoDistrict {
    struct Identified: Decodable, Sendable {
        let id: String
    }

    static func ids(_ file: String) throws -> Set<String> {
        let data = try Data(contentsOf: try CleverStandin.demoDataset().appendingPathComponent(file))
        return Set(try JSONDecoder().decode(CleverPage<Identified>.self, from: data).records.map(\.id))
    }

    /// Users the fetcher reads: everyone but contacts.
    static func userIDs() throws -> Set<String> {
        let data = try Data(contentsOf: try CleverStandin.demoDataset().appendingPathComponent("users.json"))
        let users = try JSONDecoder().decode(CleverPage<CleverUser>.self, from: data).records
        return Set(users.filter { $0.roles.contact == nil }.map(\.id))
    }

    static func sectionIDs() throws -> Set<String> { try ids("sections.json") }
}
