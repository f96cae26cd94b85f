import Foundation
import HTTPClient
import RosterSupport

/// A district that authorized the app, with its bearer token. `description` leaves the token out.
public struct CleverDistrictToken: Sendable, CustomStringConvertible {
    public let districtID: String
    public let token: String

    public init(districtID: String, token: String) {
        self.districtID = districtID
        self.token = token
    }

    public var description: String { "district \(districtID) (token withheld)" }
}

/// Who signed in, as `GET /v3.0/me` tells it.
public struct CleverMe: Sendable, Equatable {
    /// The Clever user id: the one thing to match a sign-in on.
    public let userID: String
    public let districtID: String?
    /// `student`, `teacher`, `staff`, `district_admin`, `contact` or `district`.
    public let type: String?
}

/// Clever's OAuth side: which districts authorized the app, and the sign-in code exchange.
///
/// Calls block; use one object per thread. Tokens and the client secret go to Clever only: they are
/// never logged and never put in an error.
public final class CleverOAuth {
    private let configuration: CleverConfiguration
    private let logger: Logger
    private let budget: CleverRateBudget

    public init(configuration: CleverConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        budget = CleverRateBudget(requestsPerMinute: configuration.requestsPerMinute)
    }

    /// Every district that authorized the app, from `GET {oauth}/oauth/tokens?owner_type=district`.
    ///
    /// - Throws: `CleverError` `.invalidCredentials` when Clever refuses the client id or secret, or
    ///   when they are not configured.
    public func listDistrictTokens() throws -> [CleverDistrictToken] {
        struct Answer: Decodable {
            struct Entry: Decodable {
                struct Owner: Decodable {
                    let type: String?
                    let id: String
                }
                let owner: Owner
                let accessToken: String

                enum CodingKeys: String, CodingKey {
                    case owner
                    case accessToken = "access_token"
                }
            }
            let data: [Entry]
        }
        // TODO: Clever may page this list for apps with very many districts; only the first page is read.
        let response = try sendWithClientCredentials(uri: "/oauth/tokens?owner_type=district")
        let answer: Answer = try decode(response, path: "/oauth/tokens")
        logger.debug("listed district tokens", metadata: ["clever.districts": "\(answer.data.count)"])
        return answer.data.filter { $0.owner.type == nil || $0.owner.type == "district" }.map {
            CleverDistrictToken(districtID: $0.owner.id, token: $0.accessToken)
        }
    }

    /// Trades a sign-in's authorization code for the user's bearer token (`POST {oauth}/oauth/tokens`).
    public func exchangeCode(_ code: String, redirectURI: String) throws -> String {
        struct Answer: Decodable {
            let accessToken: String

            enum CodingKeys: String, CodingKey {
                case accessToken = "access_token"
            }
        }
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "code", value: code),
            URLQueryItem(name: "grant_type", value: "authorization_code"),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
        ]
        let body = Data((form.percentEncodedQuery ?? "").utf8)
        let response = try sendWithClientCredentials(
            uri: "/oauth/tokens", body: body, contentType: "application/x-www-form-urlencoded")
        let answer: Answer = try decode(response, path: "/oauth/tokens")
        return answer.accessToken
    }

    /// The signed-in user behind a user token, from `GET {api}/v3.0/me`.
    public func me(token: String) throws -> CleverMe {
        struct Answer: Decodable {
            struct Data: Decodable {
                let id: String
                let district: String?
                let type: String?
            }
            let data: Data
            let type: String?
        }
        let response = try requester("Bearer \(token)").send(origin: configuration.apiURL, uri: "/v3.0/me")
        let answer: Answer = try decode(response, path: "/v3.0/me")
        return CleverMe(userID: answer.data.id, districtID: answer.data.district, type: answer.data.type ?? answer.type)
    }

    /// Sends to the OAuth origin with HTTP Basic auth; a 401 there means the app's credentials are wrong.
    private func sendWithClientCredentials(uri: String, body: Data? = nil, contentType: String? = nil) throws
        -> HTTPResponse
    {
        do {
            return try requester(basicAuthorization()).send(
                origin: configuration.oauthURL, uri: uri, body: body, contentType: contentType)
        } catch let error as CleverError where error.code == .authorizationRevoked {
            throw CleverError(
                code: .invalidCredentials, path: error.path, status: error.status,
                message: "Clever refused the app's client id or secret")
        }
    }

    private func basicAuthorization() throws -> String {
        guard let id = configuration.clientID, let secret = configuration.clientSecret else {
            throw CleverError(
                code: .invalidCredentials,
                message: "set ROSTERSYNC_CLEVER_CLIENT_ID and ROSTERSYNC_CLEVER_CLIENT_SECRET to the app's credentials")
        }
        return "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
    }

    private func requester(_ authorization: String) throws -> CleverRequester {
        try CleverRequester(
            configuration: configuration, authorization: authorization, budget: budget, run: nil, logger: logger)
    }

    private func decode<Answer: Decodable>(_ response: HTTPResponse, path: String) throws -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: response.body)
        } catch {
            throw CleverError(
                code: .malformedResponse, path: path, status: response.status,
                message: "the answer is not as documented")
        }
    }
}
