import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterSupport
import RosterTestSupport
import XCTest

/// Which account signs in, on the synced demo district, with Clever's side played by the stand-in.
final class SignInTests: StoreTestCase {
    static let demo = DemoDistrictTests.demo
    /// A student whose district_username is `stevez33` (email z.steve@example.net).
    static let student = "5a25ffb0c1bc2a00360003ed"
    static let districtAdmin = "603ebb2ab452fb006c7639ca"

    var signIn: SignIn!

    override func setUpWithError() throws {
        try super.setUpWithError()
        try addDistrict(Self.demo, DistrictSettingsChange(licenses: .some(1100), cleverSSO: true))
        let source = CleverDatasetSource(folder: try DemoDistrictTests.demoFolder(), batchSize: 500)
        XCTAssertEqual(try sync(source, district: Self.demo).outcome, .completed)
        signIn = try SignIn(databaseURL: database.url)
    }

    override func tearDown() {
        signIn = nil
        super.tearDown()
    }

    func refusal(_ body: () throws -> SignInAccount) -> SignInError? {
        do {
            let account = try body()
            XCTFail("signed in as \(account.username)")
            return nil
        } catch {
            return error as? SignInError
        }
    }

    func oauth(_ standin: CleverStandin) -> CleverOAuth {
        var configuration = CleverConfiguration()
        configuration.apiURL = standin.url
        configuration.oauthURL = standin.url
        configuration.clientID = CleverStandin.clientID
        configuration.clientSecret = CleverStandin.clientSecret
        return CleverOAuth(configuration: configuration, logger: Logger(label: "test", level: .warning))
    }

    // MARK: - Clever

    func testACleverCodeSignsInTheUserWithThatCleverID() throws {
        let standin = try CleverStandin()
        try standin.addLoginCode("code-student", userID: Self.student)
        try standin.addLoginCode("code-admin", userID: Self.districtAdmin)

        let student = try signIn.resolveCleverCode(
            districtCleverID: Self.demo, code: "code-student", redirectURI: "https://app.example/cb",
            oauth: oauth(standin))
        XCTAssertEqual(student, SignInAccount(username: "stevez33", role: "student", cleverID: Self.student))

        let admin = try signIn.resolveCleverCode(
            districtCleverID: Self.demo, code: "code-admin", redirectURI: "https://app.example/cb",
            oauth: oauth(standin))
        XCTAssertEqual(
            admin, SignInAccount(username: Self.districtAdmin, role: "district_admin", cleverID: Self.districtAdmin))
    }

    func testACodeCleverDoesNotKnowIsRefused() throws {
        let standin = try CleverStandin()
        let error = refusal {
            try signIn.resolveCleverCode(
                districtCleverID: Self.demo, code: "never-issued", redirectURI: "https://app.example/cb",
                oauth: oauth(standin))
        }
        XCTAssertEqual(error?.code, .cleverRejected)
    }

    func testCleverSignInIsRefusedWhenTheDistrictHasItOff() throws {
        let standin = try CleverStandin()
        try standin.addLoginCode("code-student", userID: Self.student)
        try directory.update(cleverID: Self.demo, DistrictSettingsChange(cleverSSO: false))

        let error = refusal {
            try signIn.resolveCleverCode(
                districtCleverID: Self.demo, code: "code-student", redirectURI: "https://app.example/cb",
                oauth: oauth(standin))
        }
        XCTAssertEqual(error?.description, "clever_sign_in_off: district \(Self.demo) has Clever sign-in off")
        XCTAssertEqual(
            refusal { try signIn.resolveClever(districtCleverID: Self.demo, cleverUserID: Self.student) }?.code,
            .cleverSignInOff)
    }

    func testASoftDeletedAccountCannotSignInThroughClever() throws {
        try database.connect().execute("UPDATE users SET deleted_at = now() WHERE clever_id = $1", [Self.student])
        let error = refusal { try signIn.resolveClever(districtCleverID: Self.demo, cleverUserID: Self.student) }
        XCTAssertEqual(error?.description, "account_deleted: the account of district \(Self.demo) is soft deleted")
    }

    func testACleverUserTheDistrictDoesNotRosterIsRefused() throws {
        let error = refusal {
            try signIn.resolveClever(districtCleverID: Self.demo, cleverUserID: "ffffffffffffffffffffffff")
        }
        XCTAssertEqual(error?.code, .noAccount)
    }

    // MARK: - Other providers

    func testAProviderTheDistrictDoesNotAllowIsRefused() throws {
        try signIn.setAllowedProviders(districtCleverID: Self.demo, [.microsoft])
        let error = refusal { try signIn.resolve(districtCleverID: Self.demo, provider: .google, username: "stevez33") }
        XCTAssertEqual(
            error?.description, "provider_not_allowed: district \(Self.demo) does not allow sign-in with google")
        XCTAssertEqual(try signIn.allowedProviders(districtCleverID: Self.demo), [.microsoft])
    }

    func testNoProviderIsAllowedUntilTheDistrictSetsOne() throws {
        XCTAssertEqual(try signIn.allowedProviders(districtCleverID: Self.demo), [])
        let error = refusal {
            try signIn.resolve(districtCleverID: Self.demo, provider: .password, username: "stevez33")
        }
        XCTAssertEqual(error?.code, .providerNotAllowed)
    }

    func testAnAllowedProviderMatchesTheDistrictUsernameIgnoringCase() throws {
        try signIn.setAllowedProviders(districtCleverID: Self.demo, [.google, .classlink])
        for name in ["stevez33", "SteveZ33"] {
            XCTAssertEqual(
                try signIn.resolve(districtCleverID: Self.demo, provider: .google, username: name),
                SignInAccount(username: "stevez33", role: "student", cleverID: Self.student))
        }
    }

    func testTheEmailNeverSignsIn() throws {
        try signIn.setAllowedProviders(districtCleverID: Self.demo, [.google])
        let error = refusal {
            try signIn.resolve(districtCleverID: Self.demo, provider: .google, username: "z.steve@example.net")
        }
        XCTAssertEqual(error?.description, "no_account: no account of district \(Self.demo) has that username")
    }

    func testAnAccountWhoseUsernameIsItsCleverIDSignsInThroughCleverOnly() throws {
        try signIn.setAllowedProviders(districtCleverID: Self.demo, [.google, .password])
        // A district admin, and a student who lost a username conflict: both carry their Clever id.
        let loser = try database.connect().query(
            "SELECT clever_id FROM users WHERE role = 'student' AND username = clever_id ORDER BY clever_id LIMIT 1"
        ).first!.string("clever_id")
        for id in [Self.districtAdmin, loser] {
            let error = refusal { try signIn.resolve(districtCleverID: Self.demo, provider: .password, username: id) }
            XCTAssertEqual(
                error?.description,
                "clever_only: the account's username is its Clever id, not a district username; it signs in through "
                    + "Clever only")
            XCTAssertEqual(try signIn.resolveClever(districtCleverID: Self.demo, cleverUserID: id).username, id)
        }
    }

    func testCSVAndNativeAccountsSignInWithTheirOwnUsername() throws {
        try signIn.setAllowedProviders(districtCleverID: Self.demo, [.password])
        let importer = try AdminImporter(databaseURL: database.url)
        _ = try importer.importAdmins(
            csv: Data(
                "username,first_name,last_name,email,role\nada.admin,Ada,Lovelace,ada@x.org,district_admin\n".utf8),
            districtCleverID: Self.demo)
        try insertUser("native.teacher", role: "teacher", source: "native", district: Self.demo)

        XCTAssertEqual(
            try signIn.resolve(districtCleverID: Self.demo, provider: .password, username: "ADA.ADMIN"),
            SignInAccount(username: "ada.admin", role: "district_admin", cleverID: nil))
        XCTAssertEqual(
            try signIn.resolve(districtCleverID: Self.demo, provider: .password, username: "native.teacher"),
            SignInAccount(username: "native.teacher", role: "teacher", cleverID: nil))
        XCTAssertEqual(
            refusal { try signIn.resolve(districtCleverID: Self.demo, provider: .password, username: "ada@x.org") }?
                .code, .noAccount)
    }

    func testASoftDeletedAccountCannotSignInWithAProvider() throws {
        try signIn.setAllowedProviders(districtCleverID: Self.demo, [.microsoft])
        try insertUser("gone.teacher", role: "teacher", source: "native", deleted: true, district: Self.demo)
        try database.connect().execute("UPDATE users SET deleted_at = now() WHERE clever_id = $1", [Self.student])
        for name in ["gone.teacher", "stevez33"] {
            let error = refusal {
                try signIn.resolve(districtCleverID: Self.demo, provider: .microsoft, username: name)
            }
            XCTAssertEqual(error?.code, .accountDeleted)
        }
    }

    func testTheProviderListReadsNamesAndRefusesUnknownOnes() throws {
        XCTAssertEqual(try SignInProvider.parseList("Google, password,google"), [.google, .password])
        XCTAssertEqual(try SignInProvider.parseList("none"), [])
        XCTAssertThrowsError(try SignInProvider.parseList("google,facebook")) { error in
            XCTAssertEqual(
                (error as? SignInError)?.message,
                "'facebook' is not a sign-in provider (use google, microsoft, classlink, password)")
        }
    }
}
