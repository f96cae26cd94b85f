import Foundation
import PostgresClient
import RosterCore
import RosterSupport

/// One run of one district's sync, on the connection that holds the district's lock: fetch and stage,
/// plan, check license and guards, then apply, hold or stop.
final class SyncRun {
    let connection: PostgresConnection
    let district: DistrictSettings
    let runID: String
    let options: SyncOptions
    let logger: Logger
    private(set) var timings: [String: Double] = [:]
    private let started = Date()

    init(
        connection: PostgresConnection, district: DistrictSettings, runID: String, options: SyncOptions, logger: Logger
    ) {
        self.connection = connection
        self.district = district
        self.runID = runID
        self.options = options
        self.logger = logger
    }

    private var isFirstSync = false
    private var licenseOverage: Int?
    private var reasons: [String] = []

    func execute(_ source: any CleverDistrictSource) throws -> SyncReport {
        let workspace = try SyncWorkspace.open(connection)
        defer { workspace.close() }
        let staging = SyncStaging(connection: connection)
        try staging.createTables()
        try fetch(source, into: staging)
        try options.faultInjection?(.staged)
        logger.info("planning", metadata: ["sync.phase": "plan"])

        let planStarted = Date()
        isFirstSync = try connection.run(
            "SELECT first_synced_at IS NULL AS first FROM districts WHERE account_id = $account::bigint",
            ["account": district.accountID]
        ).first!.bool("first")
        try plan()
        let counts = try readCounts()
        let stagedCounts = try connection.query(
            "SELECT (SELECT count(*) FROM stg_users) AS users, (SELECT count(*) FROM stg_schools) AS schools"
        ).first!
        try checkMinimum()
        try checkLicense(counts)
        let guarded =
            isFirstSync
            ? false
            : try checkGuards(
                counts, stagedUsers: try stagedCounts.int("users"), stagedSchools: try stagedCounts.int("schools"))
        timings[SyncPhase.plan.rawValue] = Date().timeIntervalSince(planStarted)
        try options.faultInjection?(.planned)

        let outcome = try decide(guarded: guarded, counts)
        return try finish(outcome, counts)
    }

    // MARK: - Fetch and stage

    private func fetch(_ source: any CleverDistrictSource, into staging: SyncStaging) throws {
        var stageSeconds = 0.0
        var stageFailure: (any Error)?
        var batches = 0
        let fetchStarted = Date()
        do {
            _ = try source.fetchAll { batch in
                let batchStarted = Date()
                do {
                    try staging.stage(batch)
                } catch {
                    stageFailure = error
                    throw error
                }
                batches += 1
                // Progress for whoever watches the logs (scripts/demo shows the latest line).
                if batches % 10 == 0 {
                    logger.info(
                        "fetched and staged \(batches) pages, \(staging.records) records",
                        metadata: ["sync.phase": "fetch"])
                }
                stageSeconds += Date().timeIntervalSince(batchStarted)
            }
        } catch {
            if let stageFailure { throw SyncError.wrapping(stageFailure) }
            let transient = (error as? any TransientReporting)?.isTransient ?? false
            throw SyncError(.sourceFailed, "fetching from Clever failed: \(error)", isTransient: transient)
        }
        let analyzeStarted = Date()
        try staging.analyze()
        stageSeconds += Date().timeIntervalSince(analyzeStarted)
        timings[SyncPhase.fetch.rawValue] = Date().timeIntervalSince(fetchStarted) - stageSeconds
        timings[SyncPhase.stage.rawValue] = stageSeconds
        logger.debug("staged", metadata: ["clever.records": "\(staging.records)"])
    }

    // MARK: - Plan

    private var values: [String: (any PostgresBindable)?] {
        [
            "account": district.accountID, "district": district.cleverID, "first": isFirstSync,
            "approved": district.schools.map(PostgresTextArray.init),
            "grades": district.grades.map(PostgresTextArray.init),
        ]
    }

    private func plan() throws {
        try SyncPlanner.plan(connection, values, first: isFirstSync, logger: logger)
    }

    private func readCounts() throws -> [RosterKind: KindCounts] {
        var counts: [RosterKind: KindCounts] = [:]
        for kind in RosterKind.allCases { counts[kind] = KindCounts() }
        for row in try connection.query(SyncSQL.counts) {
            guard let kind = RosterKind(rawValue: try row.string("kind")) else { continue }
            let n = try row.int("n")
            switch try row.string("action") {
            case "create": counts[kind]!.created += n
            case "update": counts[kind]!.updated += n
            case "unchanged": counts[kind]!.unchanged += n
            case "delete": counts[kind]!.softDeleted += n
            case "restore": counts[kind]!.restored += n
            default: break
            }
        }
        return counts
    }

    // MARK: - Checks

    private func addFinding(
        _ code: String, _ severity: FindingSeverity, _ kind: String?, _ id: String?, _ message: String
    ) throws {
        try connection.query(SyncSQL.addFinding, [code, severity.rawValue, kind, id, message])
    }

    private func checkMinimum() throws {
        let minimum = options.minimumStudentsPerSchool
        for row in try connection.run(SyncSQL.smallSchools, ["minimum": minimum]) {
            let students = try row.int("students")
            try addFinding(
                "school.under_minimum", .warning, "school", try row.string("clever_id"),
                "school has \(students) active students, fewer than \(minimum)")
        }
    }

    private func checkLicense(_ counts: [RosterKind: KindCounts]) throws {
        guard let licenses = district.licenses else { return }
        let students = counts[.students]!.activeAfter
        guard students > licenses else { return }
        let overage = students - licenses
        licenseOverage = overage
        let message =
            "\(students) students to roster but \(licenses) licenses: over by \(overage); nothing applied, "
            + "the district is disconnected until a sync fits its licenses"
        reasons.append(message)
        try addFinding("license.over", .error, "district", district.cleverID, message)
    }

    /// Rule 12. Percentages compare with the rows of the kind that were active before the run.
    private func checkGuards(_ counts: [RosterKind: KindCounts], stagedUsers: Int, stagedSchools: Int) throws -> Bool {
        var tripped = false
        for kind in RosterKind.allCases {
            let count = counts[kind]!
            let before = count.updated + count.unchanged + count.softDeleted
            guard before > 0 else { continue }
            let checks = [
                ("guard.delete_pct", "soft delete", count.softDeleted, district.guardDeletePct),
                ("guard.update_pct", "update", count.updated, district.guardUpdatePct),
            ]
            for (code, verb, n, limit) in checks where Double(n) * 100 > limit * Double(before) {
                let percent = (Double(n) * 1000 / Double(before)).rounded() / 10
                let message =
                    "run would \(verb) \(n) of \(before) active \(kind.rawValue) (\(percent)%), more than the "
                    + "guard of \(Self.format(limit))%; held for review (runs approve or runs discard)"
                reasons.append(message)
                try addFinding(code, .error, nil, nil, message)
                tripped = true
            }
        }
        let activeUsers = [RosterKind.students, .staff].reduce(0) {
            let count = counts[$1]!
            return $0 + count.updated + count.unchanged + count.softDeleted
        }
        let activeSchools = counts[.schools]!.updated + counts[.schools]!.unchanged + counts[.schools]!.softDeleted
        for (what, staged, active) in [("users", stagedUsers, activeUsers), ("schools", stagedSchools, activeSchools)]
        where staged == 0 && active > 0 {
            let message =
                "Clever answered with no \(what) while the district has \(active) active; held for review"
            reasons.append(message)
            try addFinding("guard.empty_source", .error, nil, nil, message)
            tripped = true
        }
        return tripped
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    // MARK: - Decide and record

    private func decide(guarded: Bool, _ counts: [RosterKind: KindCounts]) throws -> SyncOutcome {
        if options.dryRun { return .dryRun }
        if licenseOverage != nil {
            try connection.run(
                """
                UPDATE districts SET status = 'disconnected_over_license', updated_at = now()
                WHERE account_id = $account::bigint AND status <> 'disconnected_over_license'
                """, ["account": district.accountID])
            return .overLicense
        }
        if guarded {
            try keepPlan()
            return .held
        }
        let applyStarted = Date()
        logger.info("applying the plan in one transaction", metadata: ["sync.phase": "apply"])
        try SyncApplier.apply(
            connection, accountID: district.accountID, runID: runID, fault: options.faultInjection, logger: logger)
        let written = counts.values.reduce(0) { $0 + $1.created + $1.updated + $1.softDeleted + $1.restored }
        if isFirstSync || written >= SyncApplier.analyzeAfterRows {
            try SyncApplier.analyzeRosterTables(connection, logger: logger)
        }
        timings[SyncPhase.apply.rawValue] = Date().timeIntervalSince(applyStarted)
        return .completed
    }

    /// Stores the plan's changed rows as JSON for `runs approve`; unchanged rows are not needed to apply it.
    private func keepPlan() throws {
        try connection.transaction {
            for table in SyncSQL.planTableNames {
                try connection.run(
                    """
                    INSERT INTO sync_plan_rows (run_id, kind, payload)
                    SELECT $run::bigint, $kind, to_jsonb(p) FROM \(table) p WHERE p.action <> 'unchanged'
                    """, ["run": Int(runID), "kind": table])
            }
        }
    }

    private func finish(_ outcome: SyncOutcome, _ counts: [RosterKind: KindCounts]) throws -> SyncReport {
        for statement in SyncSQL.storeFindings {
            try connection.run(statement, ["run": Int(runID), "cap": options.findingsCapPerCode])
        }
        var bySeverity: [String: Int] = [:]
        for row in try connection.query("SELECT severity, count(*) AS n FROM f GROUP BY severity") {
            bySeverity[try row.string("severity")] = try row.int("n")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let countsByName = Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
        try connection.run(
            """
            UPDATE sync_runs SET outcome = $outcome, first_sync = $first, plan_version = $version,
                counts = $counts::jsonb, timings = $timings::jsonb, findings_by_severity = $severity::jsonb,
                license_overage = $overage::integer, reason = $reason, finished_at = now()
            WHERE id = $run::bigint
            """,
            [
                "outcome": outcome.rawValue, "first": isFirstSync, "version": district.rosterVersion,
                "counts": String(decoding: try encoder.encode(countsByName), as: UTF8.self),
                "timings": String(decoding: try encoder.encode(timings), as: UTF8.self),
                "severity": String(decoding: try encoder.encode(bySeverity), as: UTF8.self),
                "overage": licenseOverage, "reason": reasons.isEmpty ? nil : reasons.joined(separator: "; "),
                "run": Int(runID),
            ])
        return SyncReport(
            runID: runID, districtCleverID: district.cleverID, outcome: outcome, counts: countsByName,
            timings: timings, findingsBySeverity: bySeverity,
            firstFindings: try SyncRunStore(connection: connection).findings(runID: runID, limit: 10),
            licenseOverage: licenseOverage, reason: reasons.isEmpty ? nil : reasons.joined(separator: "; "),
            durationSeconds: Date().timeIntervalSince(started))
    }
}

/// Applies a plan held in the `p_*` work tables, in one transaction.
enum SyncApplier {
    /// Rows written by one run above which the roster tables are analyzed after it.
    static let analyzeAfterRows = 50_000

    /// Refreshes the statistics of the shared roster tables after a run that wrote many rows, above all a
    /// district's first sync. Autovacuum gets there within a minute or so, but a resync that starts before
    /// it plans against statistics in which the district has no rows: the planner then expects a few hundred
    /// of the district's users and runs its anti joins as nested loops, which on 100,000 users did not
    /// finish in ten minutes. Runs after the commit, so the apply's locks are not held any longer for it.
    static func analyzeRosterTables(_ connection: PostgresConnection, logger: Logger?) throws {
        try connection.runTimed(["ANALYZE schools, classrooms, users, user_schools, enrollments"], [:], logger: logger)
    }

    static func apply(
        _ connection: PostgresConnection, accountID: Int, runID: String,
        fault: (@Sendable (SyncCheckpoint) throws -> Void)?, logger: Logger?
    ) throws {
        try connection.transaction {
            for (index, statement) in SyncSQL.apply.enumerated() {
                try connection.runTimed([statement], ["account": accountID], logger: logger)
                if index == 2 { try fault?(.applying) }
            }
            try connection.runTimed([SyncSQL.journal], ["account": accountID, "run": Int(runID)], logger: logger)
            try connection.run(
                """
                UPDATE districts SET status = 'connected', first_synced_at = coalesce(first_synced_at, now()),
                    updated_at = now()
                WHERE account_id = $account::bigint AND (status <> 'connected' OR first_synced_at IS NULL)
                """, ["account": accountID])
        }
    }
}
