import Foundation
import PostgresClient
import RosterTestSupport
import XCTest

final class PostgresConnectionTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try TestDatabase(prefix: "pgclient")
    }

    override func tearDown() {
        database?.drop()
    }

    func testParametersTravelApartFromTheStatementAndNullsComeBackAsNil() throws {
        let connection = try database.connect()
        let rows = try connection.query(
            "SELECT $1::text AS name, $2::int AS count, $3::text AS missing, $4::bool AS flag",
            ["O'Brien; DROP TABLE x", 42, nil, true])
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(try rows[0].string("name"), "O'Brien; DROP TABLE x")
        XCTAssertEqual(try rows[0].int("count"), 42)
        XCTAssertNil(try rows[0].optionalString("missing"))
        XCTAssertEqual(try rows[0].bool("flag"), true)
    }

    func testCopyRoundTripKeepsEveryAwkwardValueExactly() throws {
        let connection = try database.connect()
        try connection.execute("CREATE TABLE items (n int PRIMARY KEY, label text, note text)")
        let awkward = [
            "tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "quote\"s and 'single'",
            "naïve café 東京 🦉", "\\N", "", "comma, separated",
        ]
        var expected: [(Int, String?, String?)] = []
        for n in 0..<1000 {
            let label: String? = n % 7 == 0 ? nil : awkward[n % awkward.count] + " #\(n)"
            let note: String? = n % 5 == 0 ? nil : awkward[(n * 3) % awkward.count]
            expected.append((n, label, note))
        }
        let copied = try connection.copyIn("COPY items (n, label, note) FROM STDIN") { writer in
            for (n, label, note) in expected {
                // Half the rows field by field, the way the sync writes its largest tables.
                if n.isMultiple(of: 2) {
                    try writer.writeRow([String(n), label, note])
                } else {
                    writer.writeField(String(n))
                    writer.writeField(label)
                    writer.writeField(note)
                    try writer.endRow()
                }
            }
        }
        XCTAssertEqual(copied, 1000)
        let rows = try connection.query("SELECT n, label, note FROM items ORDER BY n")
        XCTAssertEqual(rows.count, 1000)
        for (row, want) in zip(rows, expected) {
            XCTAssertEqual(try row.int("n"), want.0)
            XCTAssertEqual(try row.optionalString("label"), want.1)
            XCTAssertEqual(try row.optionalString("note"), want.2)
        }
    }

    func testAConstraintViolationCarriesItsSQLState() throws {
        let connection = try database.connect()
        try connection.execute("CREATE TABLE names (name text PRIMARY KEY)")
        try connection.execute("INSERT INTO names VALUES ($1)", ["ada"])
        XCTAssertThrowsError(try connection.execute("INSERT INTO names VALUES ($1)", ["ada"])) { error in
            let postgres = error as? PostgresError
            XCTAssertEqual(postgres?.code, .statementFailed)
            XCTAssertEqual(postgres?.sqlState, "23505")
            XCTAssertFalse(postgres?.description.contains("ada") ?? true, "the bind value must not leak")
        }
    }

    func testATransactionThatThrowsLeavesNothingBehind() throws {
        let connection = try database.connect()
        try connection.execute("CREATE TABLE names (name text PRIMARY KEY)")
        struct Planned: Error {}
        XCTAssertThrowsError(
            try connection.transaction {
                try connection.execute("INSERT INTO names VALUES ($1)", ["kept?"])
                throw Planned()
            })
        XCTAssertEqual(try connection.query("SELECT count(*) AS n FROM names").first!.int("n"), 0)
        _ = try connection.transaction { try connection.execute("INSERT INTO names VALUES ($1)", ["kept"]) }
        XCTAssertEqual(try connection.query("SELECT count(*) AS n FROM names").first!.int("n"), 1)
    }

    func testACopyThatFailsPartWayKeepsNoRow() throws {
        let connection = try database.connect()
        try connection.execute("CREATE TABLE items (n int PRIMARY KEY)")
        XCTAssertThrowsError(
            try connection.copyIn("COPY items (n) FROM STDIN") { writer in
                try writer.writeRow(["1"])
                try writer.writeRow(["1"])
            }
        ) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505")
        }
        XCTAssertEqual(try connection.query("SELECT count(*) AS n FROM items").first!.int("n"), 0)
        XCTAssertTrue(connection.isConnected)
    }

    func testAnAdvisoryLockIsExclusiveAcrossTwoConnections() throws {
        let first = try database.connect()
        let second = try database.connect()
        XCTAssertTrue(try first.tryAdvisoryLock(77))
        XCTAssertFalse(try second.tryAdvisoryLock(77))
        try first.advisoryUnlock(77)
        XCTAssertTrue(try second.tryAdvisoryLock(77))
    }

    func testAConnectionKilledByTheServerReportsItselfLost() throws {
        let victim = try database.connect()
        let killer = try database.connect()
        try killer.execute("SELECT pg_terminate_backend($1)", [Int(victim.backendPID)])
        XCTAssertThrowsError(try victim.query("SELECT 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.code, .connectionLost)
            XCTAssertTrue((error as? PostgresError)?.isTransient ?? false)
        }
        XCTAssertFalse(victim.isConnected)
    }

    func testAWrongPasswordFailsToConnectWithAClearError() throws {
        let url = try TestEnvironment.databaseURL().replacingOccurrences(of: "roster:roster@", with: "roster:wrong@")
        XCTAssertThrowsError(try PostgresConnection(url: url)) { error in
            XCTAssertEqual((error as? PostgresError)?.code, .connectionFailed)
        }
    }

    func testTimestampsAndArraysReadBackTyped() throws {
        let connection = try database.connect()
        let when = Date(timeIntervalSince1970: 1_772_964_000.25)
        let row = try connection.query(
            "SELECT $1::timestamptz AS at, $2::text[] AS names", [when, PostgresTextArray(["a b", "c,\"d\"", nil])]
        ).first!
        XCTAssertEqual(try row.date("at").timeIntervalSince1970, 1_772_964_000.25, accuracy: 0.000_001)
        XCTAssertEqual(try row.stringArray("names"), ["a b", "c,\"d\""])
    }
}
