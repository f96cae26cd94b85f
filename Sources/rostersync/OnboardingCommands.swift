import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterSupport

/// Commands of district onboarding: the connection request, preflight and activation, admins from CSV,
/// sign-in providers, and which account a sign-in resolves to.
enum OnboardingCommands {
    static let all: [Command] = [connect, preflight, activate, providers, importAdmins, resolveLogin]

    /// Exit status of `login resolve` when no account signs in.
    static let refusedStatus: Int32 = 4

    static let connect = Command(
        path: ["district", "connect"],
        usage: """
            district connect (--account ID | --name NAME) --clever-id ID --domain DOMAIN --schools "Name A;Name B" \
            --grades K-5 --licenses N --start-date YYYY-MM-DD [--account-username USERNAME] [--district-name NAME] \
            [--json]
            """,
        summary: "Record a district's request to roster through Clever (status pending)", booleanFlags: ["json"]
    ) { arguments, _ in
        let url = try StoreCommands.databaseURL(&arguments)
        let account: ConnectionRequest.Account
        switch (try arguments.int("account"), arguments.string("name")) {
        case (let id?, nil): account = .existing(id: id)
        case (nil, let name?): account = .new(name: name)
        default: throw UsageError("give either --account ID of an existing account or --name NAME for a new one")
        }
        let grades: GradeSelection
        do {
            grades = try GradeSelection.parse(try arguments.required("grades"))
        } catch let error as GradeSelection.ParseError {
            throw UsageError(error.description)
        }
        guard let licenses = try arguments.int("licenses") else { throw UsageError("--licenses is required") }
        let request = ConnectionRequest(
            account: account, districtCleverID: try arguments.required("clever-id"),
            districtName: arguments.string("district-name"), accountUsername: arguments.string("account-username"),
            usernameDomain: arguments.string("domain"),
            schoolNames: ConnectionRequest.schoolNames(from: try arguments.required("schools")), grades: grades,
            licenses: licenses, startDate: try arguments.required("start-date"))
        let json = arguments.flag("json")
        try arguments.finish()
        let record = try Onboarding(databaseURL: url).connect(request)
        if json {
            StoreCommands.printJSON(record)
        } else {
            print(
                """
                district     \(record.districtCleverID)  (account \(record.accountID))
                status       \(record.status.rawValue)
                schools      \(record.schoolNames.joined(separator: "; "))
                grades       \(record.grades?.joined(separator: ",") ?? "all")
                licenses     \(record.licenses)
                start date   \(record.startDate)
                next         rostersync district preflight --district \(record.districtCleverID)
                """)
        }
        return 0
    }

    static let preflight = Command(
        path: ["district", "preflight"],
        usage:
            "district preflight --district CLEVER_ID [--dataset DIR] [--minimum-students N] [--json] [Clever options]",
        summary: "Check a district's request against its Clever data; writes nothing", booleanFlags: ["json"]
    ) { arguments, logger in
        let url = try StoreCommands.databaseURL(&arguments)
        let district = try arguments.required("district")
        let dataset = arguments.string("dataset")
        let minimum = try arguments.int("minimum-students", default: 100)!
        let json = arguments.flag("json")
        let configuration = try CleverConfiguration.read(&arguments)
        try arguments.finish()
        let source = try StoreCommands.makeSource(
            district: district, dataset: dataset, configuration: configuration, logger: logger)
        let report = try Onboarding.preflight(
            databaseURL: url, districtCleverID: district, source: source,
            options: PreflightOptions(minimumStudentsPerSchool: minimum))
        json ? StoreCommands.printJSON(report) : printPreflight(report, minimum: minimum)
        return 0
    }

    static let activate = Command(
        path: ["district", "activate"],
        usage: "district activate --district CLEVER_ID [--dataset DIR] [Clever options]",
        summary: "Copy a pending district's requested schools and grades into its settings and connect it"
    ) { arguments, logger in
        let url = try StoreCommands.databaseURL(&arguments)
        let district = try arguments.required("district")
        let dataset = arguments.string("dataset")
        let configuration = try CleverConfiguration.read(&arguments)
        try arguments.finish()
        let source = try StoreCommands.makeSource(
            district: district, dataset: dataset, configuration: configuration, logger: logger)
        let settings = try Onboarding(databaseURL: url).activate(districtCleverID: district, source: source)
        StoreCommands.printSettings(settings, json: false)
        print("first sync   at the first nightly window on or after \(settings.startDate ?? "-")")
        return 0
    }

    static let providers = Command(
        path: ["district", "providers"],
        usage: "district providers --district CLEVER_ID [--allow google,microsoft,classlink,password|none]",
        summary: "Show or set the sign-in providers other than Clever that a district allows"
    ) { arguments, _ in
        let url = try StoreCommands.databaseURL(&arguments)
        let district = try arguments.required("district")
        let allow = arguments.string("allow")
        try arguments.finish()
        let signIn = try SignIn(databaseURL: url)
        if let allow {
            let list: [SignInProvider]
            do {
                list = try SignInProvider.parseList(allow)
            } catch let error as SignInError {
                throw UsageError(error.message)
            }
            try signIn.setAllowedProviders(districtCleverID: district, list)
        }
        let allowed = try signIn.allowedProviders(districtCleverID: district)
        print(allowed.isEmpty ? "none" : allowed.map(\.rawValue).joined(separator: ","))
        return 0
    }

    static let importAdmins = Command(
        path: ["admins", "import"], usage: "admins import FILE --district CLEVER_ID [--dry-run] [--json]",
        summary: "Create or update a district's admins from a CSV file, checked whole first",
        booleanFlags: ["dry-run", "json"]
    ) { arguments, _ in
        let url = try StoreCommands.databaseURL(&arguments)
        let district = try arguments.required("district")
        let dryRun = arguments.flag("dry-run")
        let json = arguments.flag("json")
        try arguments.finish()
        guard arguments.positional.count == 1 else { throw UsageError("give exactly one CSV file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: arguments.positional[0]))
        } catch {
            throw UsageError("cannot read \(arguments.positional[0])")
        }
        let result = try AdminImporter(databaseURL: url).importAdmins(
            csv: data, districtCleverID: district, dryRun: dryRun)
        if json {
            StoreCommands.printJSON(result)
        } else {
            print(
                (dryRun ? "dry run: would create " : "created ")
                    + "\(result.created), updated \(result.updated), unchanged \(result.unchanged)")
        }
        return 0
    }

    static let resolveLogin = Command(
        path: ["login", "resolve"],
        usage: """
            login resolve --district CLEVER_ID (--clever-code CODE [--redirect-uri URI] | --clever-user ID \
            | --provider google|microsoft|classlink|password --username USERNAME) [Clever options]
            """,
        summary: "Print the account a sign-in resolves to as JSON, or why none (exit 4)"
    ) { arguments, logger in
        let url = try StoreCommands.databaseURL(&arguments)
        let district = try arguments.required("district")
        let code = arguments.string("clever-code")
        let redirect = arguments.string("redirect-uri", env: "ROSTERSYNC_CLEVER_REDIRECT_URI")
        let cleverUser = arguments.string("clever-user")
        let provider = arguments.string("provider")
        let username = arguments.string("username")
        let configuration = try CleverConfiguration.read(&arguments)
        try arguments.finish()
        let signIn = try SignIn(databaseURL: url)
        do {
            let account: SignInAccount
            switch (code, cleverUser, provider, username) {
            case (let code?, nil, nil, nil):
                guard let redirect else {
                    throw UsageError("--clever-code needs --redirect-uri (or ROSTERSYNC_CLEVER_REDIRECT_URI)")
                }
                account = try signIn.resolveCleverCode(
                    districtCleverID: district, code: code, redirectURI: redirect,
                    oauth: CleverOAuth(configuration: configuration, logger: logger))
            case (nil, let user?, nil, nil):
                account = try signIn.resolveClever(districtCleverID: district, cleverUserID: user)
            case (nil, nil, let name?, let username?):
                guard let provider = SignInProvider(rawValue: name.lowercased()) else {
                    throw UsageError("--provider takes google, microsoft, classlink or password")
                }
                account = try signIn.resolve(districtCleverID: district, provider: provider, username: username)
            default:
                throw UsageError("give one of --clever-code, --clever-user, or --provider with --username")
            }
            StoreCommands.printJSON(account)
            return 0
        } catch let refusal as SignInError where refusal.code != .database && refusal.code != .districtNotFound {
            FileHandle.standardError.write(Data("rostersync: no account signs in: \(refusal)\n".utf8))
            return refusedStatus
        }
    }

    static func printPreflight(_ report: PreflightReport, minimum: Int) {
        let schools = report.schools
        print("district \(report.district)")
        print("schools: \(schools.matched.count) requested and shared")
        for match in schools.matched { print("  \(match.requested) = \(match.cleverID) (\(match.cleverName))") }
        for name in schools.missing { print("  missing in Clever: \(name)") }
        for entry in schools.ambiguous {
            print("  ambiguous: \(entry.requested) = \(entry.cleverIDs.joined(separator: ", "))")
        }
        for school in schools.extra { print("  shared, not requested: \(school.cleverID) (\(school.name ?? "-"))") }
        print("classrooms per shared school:")
        for school in report.classrooms.perSchool { print("  \(school.cleverID)  \(school.count)") }
        if !report.classrooms.schoolsWithNone.isEmpty {
            print("  schools with none: \(report.classrooms.schoolsWithNone.joined(separator: ", "))")
        }
        let existing = report.existingUsers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        print("existing users: " + (existing.isEmpty ? "none" : existing.joined(separator: ", ")))
        let licenses = report.licenses
        print(
            "licenses: \(licenses.studentsToRoster) students to roster, \(licenses.licenses) licenses"
                + (licenses.enough ? " (enough)" : " (NOT enough)"))
        print(
            "usernames: \(report.usernames.linked) linked, \(report.usernames.notLinked) not linked, "
                + "\(report.usernames.conflicts) conflicts")
        print(
            "first sync: \(report.outcome.created) users created, \(report.outcome.linked) linked, "
                + "\(report.outcome.softDeleted) soft deleted")
        StoreCommands.printCounts(report.outcome.counts, timings: [:])
        print("schools under \(minimum) students: \(report.smallSchools.count)")
        for school in report.smallSchools { print("  \(school.cleverID)  \(school.count)") }
        print("students in several schools: \(report.studentsInSeveralSchools.count)")
        for student in report.studentsInSeveralSchools { print("  \(student.cleverID)  \(student.count)") }
    }
}
