import CleverClient
import Foundation
import RosterSupport
import RosterTestSupport
import XCTest

final class CleverOAuthTests: XCTestCase {
    private var standin: CleverStandin!

    override func setUpWithError() throws {
        standin = try CleverStandin()
    }

    override func tearDown() {
        standin.stop()
        standin = nil
    }

    func testDistrictDiscoveryListsTheDemoDistrictWithItsToken() throws {
        let tokens = try oauth(id: CleverStandin.clientID, secret: CleverStandin.clientSecret).listDistrictTokens()
        XCTAssertEqual(tokens.map(\.districtID), ["5a0c91b95c7cc000010d417c"])
        XCTAssertEqual(tokens.first?.token, CleverStandin.demoToken)
        XCTAssertFalse("\(tokens)".contains(CleverStandin.demoToken))
    }

    func testWrongClientSecretFailsAsInvalidCredentials() throws {
        XCTAssertThrowsError(try oauth(id: CleverStandin.clientID, secret: "wrong").listDistrictTokens()) { error in
            XCTAssertEqual((error as? CleverError)?.code, .invalidCredentials)
            XCTAssertEqual((error as? CleverError)?.status, 401)
            XCTAssertFalse("\(error)".contains("wrong"))
        }
    }

    func testMissingCredentialsSayWhichVariablesToSet() throws {
        var settings = CleverConfiguration()
        settings.oauthURL = standin.url
        XCTAssertThrowsError(try CleverOAuth(configuration: settings, logger: logger).listDistrictTokens()) { error in
            XCTAssertEqual((error as? CleverError)?.code, .invalidCredentials)
            XCTAssertTrue("\(error)".contains("ROSTERSYNC_CLEVER_CLIENT_SECRET"))
        }
    }

    func testSignInCodeExchangesForATokenThatNamesTheUser() throws {
        let teacher = "5a25ffb1c1bc2a003600051e"
        try standin.addLoginCode("code-1", userID: teacher)
        let client = oauth(id: CleverStandin.clientID, secret: CleverStandin.clientSecret)
        let token = try client.exchangeCode("code-1", redirectURI: "https://roster.example/callback")
        let me = try client.me(token: token)
        XCTAssertEqual(me.userID, teacher)
        XCTAssertEqual(me.districtID, "5a0c91b95c7cc000010d417c")
    }

    func testUnknownSignInCodeIsRefused() throws {
        let client = oauth(id: CleverStandin.clientID, secret: CleverStandin.clientSecret)
        XCTAssertThrowsError(try client.exchangeCode("nope", redirectURI: "https://roster.example/callback")) { error in
            XCTAssertEqual((error as? CleverError)?.code, .requestFailed)
            XCTAssertEqual((error as? CleverError)?.status, 400)
        }
    }

    private var logger: Logger { Logger(label: "test", level: .warning) }

    private func oauth(id: String, secret: String) -> CleverOAuth {
        var settings = CleverConfiguration()
        settings.apiURL = standin.url
        settings.oauthURL = standin.url
        settings.clientID = id
        settings.clientSecret = secret
        return CleverOAuth(configuration: settings, logger: logger)
    }
}
