import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterSupport

/// Commands of the roster store: migrations, district settings, one-district syncs, runs and export.
enum StoreCommands {
    static let all: [Command] = [
        Command(
            path: ["migrate"], usage: "migrate [--database-url URL]",
            summary: "Apply the database migrations (safe to repeat)"
        ) { arguments, logger in
            let url = try databaseURL(&arguments)
            try arguments.finish()
            let applied = try RosterStore.migrate(url: url, logger: logger)
            print(
                applied.isEmpty
                    ? "schema is current" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
            return 0
        },
        Command(
            path: ["district", "add"],
            usage: "district add --clever-id ID --name NAME [--schools all|ID,ID] [--grades all|K-5|3,4,5] "
                + "[--licenses N] [--start-date YYYY-MM-DD] [--clever-sso on|off] [--paused on|off] "
                + "[--guard-delete-pct 10] [--guard-update-pct 75]",
            summary: "Set up a district (status connected)"
        ) { arguments, _ in
            let url = try databaseURL(&arguments)
            let id = try arguments.required("clever-id")
            let name = try arguments.required("name")
            var change = try settingsChange(&arguments)
            change.name = nil
            try arguments.finish()
            let settings = try DistrictDirectory(databaseURL: url).add(cleverID: id, name: name, change)
            printSettings(settings, json: false)
            return 0
        },
        Command(
            path: ["district", "set"],
            usage: "district set --clever-id ID [--name NAME] [--schools all|ID,ID] [--grades all|K-5|3,4,5] "
                + "[--licenses N|none] [--start-date YYYY-MM-DD|none] [--clever-sso on|off] [--paused on|off] "
                + "[--guard-delete-pct P] [--guard-update-pct P]",
            summary: "Change a district's settings"
        ) { arguments, _ in
            let url = try databaseURL(&arguments)
            let id = try arguments.required("clever-id")
            let change = try settingsChange(&arguments)
            try arguments.finish()
            printSettings(try DistrictDirectory(databaseURL: url).update(cleverID: id, change), json: false)
            return 0
        },
        Command(
            path: ["district", "show"], usage: "district show --clever-id ID [--json]",
            summary: "Print a district's settings", booleanFlags: ["json"]
        ) { arguments, _ in
            let url = try databaseURL(&arguments)
            let id = try arguments.required("clever-id")
            let json = arguments.flag("json")
            try arguments.finish()
            printSettings(try DistrictDirectory(databaseURL: url).settings(id), json: json)
            return 0
        },
        Command(
            path: ["sync"], usage: "sync --district CLEVER_ID [--dry-run] [--dataset DIR] [--json] [Clever options]",
            summary: "Sync one district now, in this process", booleanFlags: ["dry-run", "json"]
        ) { arguments, logger in
            let url = try databaseURL(&arguments)
            let district = try arguments.required("district")
            let options = SyncOptions(dryRun: arguments.flag("dry-run"))
            let dataset = arguments.string("dataset")
            let json = arguments.flag("json")
            let configuration = try CleverConfiguration.read(&arguments)
            try arguments.finish()
            let source = try makeSource(
                district: district, dataset: dataset, configuration: configuration, logger: logger)
            let report = try DistrictSyncer(databaseURL: url, logger: logger).sync(
                districtCleverID: district, source: source, options: options)
            json ? printJSON(report) : printReport(report)
            return report.outcome == .completed || report.outcome == .dryRun ? 0 : 3
        },
        Command(
            path: ["runs", "list"], usage: "runs list [--district CLEVER_ID] [--limit N] [--json]",
            summary: "List sync runs, newest first", booleanFlags: ["json"]
        ) { arguments, _ in
            let url = try databaseURL(&arguments)
            let district = arguments.string("district")
            let limit = try arguments.int("limit", default: 50)!
            guard limit >= 1 else { throw UsageError("--limit must be at least 1") }
            let json = arguments.flag("json")
            try arguments.finish()
            let runs = try SyncRunStore(databaseURL: url).list(districtCleverID: district, limit: limit)
            if json {
                printJSON(runs)
            } else {
                for run in runs {
                    let finished = run.finishedAt.map { String(format: "%.1fs", $0.timeIntervalSince(run.startedAt)) }
                    print(
                        "\(run.runID)\t\(run.districtCleverID)\t\(run.outcome.rawValue)\t\(iso(run.startedAt))\t"
                            + (finished ?? "-") + "\t" + (run.errorCode ?? ""))
                }
            }
            return 0
        },
        Command(
            path: ["runs", "show"], usage: "runs show RUN [--json]",
            summary: "Show a run's outcome, counts, timings and findings", booleanFlags: ["json"]
        ) { arguments, _ in
            let url = try databaseURL(&arguments)
            let json = arguments.flag("json")
            let run = try runArgument(arguments)
            try arguments.finish()
            let record = try SyncRunStore(databaseURL: url).show(runID: run)
            json ? printJSON(record) : printRecord(record)
            return 0
        },
        Command(
            path: ["runs", "approve"], usage: "runs approve RUN",
            summary: "Apply a held run's plan, if the district did not change since"
        ) { arguments, logger in
            let url = try databaseURL(&arguments)
            let run = try runArgument(arguments)
            try arguments.finish()
            printReport(try DistrictSyncer(databaseURL: url, logger: logger).approve(runID: run))
            return 0
        },
        Command(
            path: ["runs", "discard"], usage: "runs discard RUN", summary: "Throw away a held run's plan"
        ) { arguments, logger in
            let url = try databaseURL(&arguments)
            let run = try runArgument(arguments)
            try arguments.finish()
            try DistrictSyncer(databaseURL: url, logger: logger).discard(runID: run)
            print("run \(run) discarded")
            return 0
        },
        Command(
            path: ["export"], usage: "export --district CLEVER_ID",
            summary: "Print a district's roster as JSON, sorted"
        ) { arguments, _ in
            let url = try databaseURL(&arguments)
            let district = try arguments.required("district")
            try arguments.finish()
            try RosterExport(databaseURL: url).export(districtCleverID: district) { text in
                FileHandle.standardOutput.write(Data(text.utf8))
            }
            return 0
        },
    ]

    /// Where `sync` reads the district from without `--dataset`: the live API through `CleverFetcher`, with
    /// the district's token looked up in Clever's list of district tokens (OAuth credentials from the
    /// environment, as `clever districts` reads them).
    static func makeLiveSource(district: String, configuration: CleverConfiguration, logger: Logger) throws
        -> any CleverDistrictSource
    {
        let tokens = try CleverOAuth(configuration: configuration, logger: logger).listDistrictTokens()
        guard let token = tokens.first(where: { $0.districtID == district }) else {
            throw UsageError("Clever lists no token for district \(district); it has not authorized the app")
        }
        return CleverFetcher(token: token.token, configuration: configuration, logger: logger)
    }

    static func makeSource(
        district: String, dataset: String?, configuration: CleverConfiguration, logger: Logger
    ) throws -> any CleverDistrictSource {
        guard let dataset else {
            return try makeLiveSource(district: district, configuration: configuration, logger: logger)
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataset, isDirectory: &isFolder), isFolder.boolValue else {
            throw UsageError("--dataset \(dataset) is not a folder")
        }
        return CleverDatasetSource(folder: URL(fileURLWithPath: dataset))
    }

    static func databaseURL(_ arguments: inout Arguments) throws -> String {
        try arguments.required("database-url", env: "ROSTERSYNC_DATABASE_URL")
    }

    static func runArgument(_ arguments: Arguments) throws -> String {
        guard arguments.positional.count == 1 else { throw UsageError("give exactly one run id") }
        return arguments.positional[0]
    }

    static func settingsChange(_ arguments: inout Arguments) throws -> DistrictSettingsChange {
        var change = DistrictSettingsChange()
        change.name = arguments.string("name")
        do {
            change.schools = try arguments.string("schools").map(SchoolSelection.parse)
            change.grades = try arguments.string("grades").map(GradeSelection.parse)
        } catch let error as GradeSelection.ParseError {
            throw UsageError(error.description)
        }
        if let licenses = arguments.string("licenses") {
            if licenses.lowercased() == "none" {
                change.licenses = .some(nil)
            } else if let count = Int(licenses) {
                change.licenses = .some(count)
            } else {
                throw UsageError("--licenses takes a whole number or none")
            }
        }
        if let date = arguments.string("start-date") {
            change.startDate = .some(date.lowercased() == "none" ? nil : date)
        }
        change.cleverSSO = try arguments.onOff("clever-sso")
        change.paused = try arguments.onOff("paused")
        change.guardDeletePct = try arguments.double("guard-delete-pct")
        change.guardUpdatePct = try arguments.double("guard-update-pct")
        return change
    }

    static func printSettings(_ settings: DistrictSettings, json: Bool) {
        if json { return printJSON(settings) }
        print(
            """
            district     \(settings.cleverID)  \(settings.name)
            status       \(settings.status.rawValue)\(settings.paused ? " (paused)" : "")
            schools      \(settings.schools?.joined(separator: ",") ?? "all")
            grades       \(settings.grades?.joined(separator: ",") ?? "all")
            licenses     \(settings.licenses.map(String.init) ?? "no cap")
            start date   \(settings.startDate ?? "-")
            clever sso   \(settings.cleverSSO ? "on" : "off")
            guards       delete \(settings.guardDeletePct)%  update \(settings.guardUpdatePct)%
            """)
    }

    static func printReport(_ report: SyncReport) {
        print(
            "run \(report.runID)  district \(report.districtCleverID)  \(report.outcome.rawValue)"
                + String(format: "  %.2fs", report.durationSeconds))
        if let reason = report.reason { print("reason: \(reason)") }
        printCounts(report.counts, timings: report.timings)
        let severities = FindingSeverity.allCases.map {
            "\($0.rawValue) \(report.findingsBySeverity[$0.rawValue] ?? 0)"
        }
        print("findings: " + severities.joined(separator: ", "))
        for finding in report.firstFindings { printFinding(finding) }
    }

    static func printRecord(_ record: SyncRunRecord) {
        print(
            "run \(record.runID)  district \(record.districtCleverID)  \(record.outcome.rawValue)"
                + (record.dryRun ? " (dry run)" : "") + (record.firstSync ? " (first sync)" : ""))
        print("started \(iso(record.startedAt))" + (record.finishedAt.map { "  finished \(iso($0))" } ?? ""))
        if let code = record.errorCode { print("error: \(code)") }
        if let reason = record.reason { print("reason: \(reason)") }
        if let overage = record.licenseOverage { print("over the license count by \(overage)") }
        printCounts(record.counts, timings: record.timings)
        print("findings (\(record.findings.count) stored):")
        for finding in record.findings { printFinding(finding) }
    }

    static func printCounts(_ counts: [String: KindCounts], timings: [String: Double]) {
        print("kind          created  updated  unchanged  deleted  restored")
        for kind in RosterKind.allCases {
            guard let count = counts[kind.rawValue] else { continue }
            let cells = [count.created, count.updated, count.unchanged, count.softDeleted, count.restored]
            print(
                kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + cells.map { String($0).leftPadded(9) }.joined(separator: " "))
        }
        let phases = SyncPhase.allCases.compactMap { phase in
            timings[phase.rawValue].map { String(format: "%@ %.2fs", phase.rawValue, $0) }
        }
        print("timings: " + phases.joined(separator: ", "))
    }

    static func printFinding(_ finding: Finding) {
        let object = finding.objectKind.map { " \($0) \(finding.objectID ?? "")" } ?? ""
        print("  [\(finding.severity.rawValue)] \(finding.code)\(object): \(finding.message)")
    }

    static func printJSON<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
    }

    static func iso(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
