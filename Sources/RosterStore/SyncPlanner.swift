import PostgresClient
import RosterSupport

/// Runs the plan's SQL in order on the run's connection; shared by the sync and by onboarding's preflight,
/// so the two always plan the same way.
///
/// Every work table that later statements join is analyzed as soon as it is filled (the analyses are
/// among the statements): autovacuum would come too late, and without statistics the planner takes a
/// 100,000-row table for a small one and picks nested loops that run for hours. Statements slower than a
/// second are logged at debug level, with their first words only, to find the next slow step without a
/// profiler.
enum SyncPlanner {
    static func plan(
        _ connection: PostgresConnection, _ values: [String: (any PostgresBindable)?], first: Bool, logger: Logger?
    ) throws {
        func run(_ statements: [String]) throws {
            try connection.runTimed(statements, values, logger: logger)
        }
        try run(SyncSQL.schools)
        try run(SyncSQL.users)
        try run([SyncSQL.matchUsers] + (first ? [SyncSQL.linkNativeUsers] : []) + ["ANALYZE m_users"])
        try run(SyncSQL.usernames)
        try run(SyncSQL.planUsers)
        try run([SyncSQL.planSchools, "ANALYZE p_schools"])
        try run(SyncSQL.planMemberships)
        try run(SyncSQL.classrooms)
        try run(SyncSQL.enrollmentKeys)
        try run(first ? SyncSQL.membersOfFirstSync : SyncSQL.membersOfResync)
        try run(SyncSQL.enrollmentPlan)
    }
}
