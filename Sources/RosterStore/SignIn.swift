import CleverClient
import Foundation
import PostgresClient

/// A way to sign in other than Clever, which a district allows or not.
public enum SignInProvider: String, Sendable, Codable, CaseIterable {
    case google, microsoft, classlink
    /// Our own password.
    case password

    /// Reads `google,microsoft` (or `none`), without regard to case.
    ///
    /// - Throws: `SignInError` `.unknownProvider` naming the word that is not a provider.
    public static func parseList(_ text: String) throws -> [SignInProvider] {
        let words = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
        if words == ["none"] { return [] }
        return try Set(
            words.map { word in
                guard let provider = SignInProvider(rawValue: word) else {
                    throw SignInError(
                        .unknownProvider,
                        "'\(word)' is not a sign-in provider (use \(allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return provider
            }
        ).sorted { $0.rawValue < $1.rawValue }
    }
}

/// The account a sign-in resolves to.
public struct SignInAccount: Sendable, Codable, Equatable {
    public var username: String
    public var role: String
    /// Nil for accounts that did not come from Clever.
    public var cleverID: String?

    public init(username: String, role: String, cleverID: String?) {
        self.username = username
        self.role = role
        self.cleverID = cleverID
    }

    enum CodingKeys: String, CodingKey {
        case username, role, cleverID = "clever_id"
    }
}

/// Why no account signs in, with a code a program can switch on. `description` names the district and
/// the provider, never the username or the code that was tried.
public struct SignInError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable, Codable {
        case districtNotFound = "district_not_found"
        case unknownProvider = "unknown_provider"
        /// The district does not allow the provider.
        case providerNotAllowed = "provider_not_allowed"
        /// The district has Clever sign-in off.
        case cleverSignInOff = "clever_sign_in_off"
        /// Clever refused the authorization code, or `/v3.0/me` failed.
        case cleverRejected = "clever_rejected"
        /// The Clever user belongs to another district.
        case otherDistrict = "other_district"
        /// No account of the district matches.
        case noAccount = "no_account"
        /// The matching account is soft deleted.
        case accountDeleted = "account_deleted"
        /// The matching account's username is its Clever id; it signs in through Clever only.
        case cleverOnly = "clever_only"
        case database
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// Which account of a district signs in, by provider, and which providers the district allows.
///
/// Rules:
/// - Clever sign-in, only when the district has it on (`clever_sso`), matches the Clever user id that
///   `/v3.0/me` gives after the code exchange; never the email.
/// - Every other provider matches the username only, ignoring case, never the email, and only if the
///   district allows the provider. A Clever-rostered account qualifies only when its username came from
///   Clever's `district_username`, which the roster shows as a username that differs from the Clever id
///   (admins, users without a `district_username` and username conflict losers carry their Clever id and
///   sign in through Clever only). CSV and native accounts sign in with their own username: it is the one
///   the district chose for them, and they have no Clever id to sign in with.
/// - Soft-deleted accounts never sign in.
public final class SignIn {
    let connection: PostgresConnection

    /// Opens its own connection.
    public init(databaseURL: String) throws {
        do {
            connection = try PostgresConnection(url: databaseURL)
        } catch {
            throw SignInError(.database, String(describing: error))
        }
    }

    /// The providers other than Clever the district allows; none until set.
    public func allowedProviders(districtCleverID: String) throws -> [SignInProvider] {
        try district(districtCleverID).providers
    }

    /// Replaces the district's allowed providers.
    public func setAllowedProviders(districtCleverID: String, _ providers: [SignInProvider]) throws {
        let account = try district(districtCleverID).accountID
        try database {
            try connection.run(
                """
                INSERT INTO district_sign_in (account_id, providers) VALUES ($account::bigint, $providers::text[])
                ON CONFLICT (account_id) DO UPDATE SET providers = excluded.providers, updated_at = now()
                """,
                [
                    "account": account,
                    "providers": PostgresTextArray(Set(providers).map(\.rawValue).sorted()),
                ])
        }
    }

    /// The account of the Clever user `cleverUserID`, when the district has Clever sign-in on.
    public func resolveClever(districtCleverID: String, cleverUserID: String) throws -> SignInAccount {
        let found = try district(districtCleverID)
        guard found.cleverSSO else {
            throw SignInError(.cleverSignInOff, "district \(districtCleverID) has Clever sign-in off")
        }
        let user = try database {
            try connection.run(
                """
                SELECT username, role, clever_id, deleted_at IS NOT NULL AS deleted FROM users
                WHERE account_id = $account::bigint AND clever_id = $clever
                """, ["account": found.accountID, "clever": cleverUserID]
            ).first
        }
        guard let user else {
            throw SignInError(.noAccount, "no account of district \(districtCleverID) has that Clever user id")
        }
        return try account(user, districtCleverID: districtCleverID)
    }

    /// Exchanges a Clever authorization code at Clever's token endpoint, asks `/v3.0/me` who signed in and
    /// resolves that Clever user id. The code is not sent when the district has Clever sign-in off.
    public func resolveCleverCode(
        districtCleverID: String, code: String, redirectURI: String, oauth: CleverOAuth
    ) throws -> SignInAccount {
        guard try district(districtCleverID).cleverSSO else {
            throw SignInError(.cleverSignInOff, "district \(districtCleverID) has Clever sign-in off")
        }
        let me: CleverMe
        do {
            me = try oauth.me(token: try oauth.exchangeCode(code, redirectURI: redirectURI))
        } catch {
            throw SignInError(.cleverRejected, "Clever did not accept the sign-in: \(error)")
        }
        if let other = me.districtID, other != districtCleverID {
            throw SignInError(.otherDistrict, "the Clever user belongs to district \(other), not \(districtCleverID)")
        }
        return try resolveClever(districtCleverID: districtCleverID, cleverUserID: me.userID)
    }

    /// The account whose username is `username`, ignoring case, for a provider the district allows.
    public func resolve(districtCleverID: String, provider: SignInProvider, username: String) throws
        -> SignInAccount
    {
        let found = try district(districtCleverID)
        guard found.providers.contains(provider) else {
            throw SignInError(
                .providerNotAllowed, "district \(districtCleverID) does not allow sign-in with \(provider.rawValue)")
        }
        let user = try database {
            try connection.run(
                """
                SELECT username, role, clever_id, source, deleted_at IS NOT NULL AS deleted FROM users
                WHERE account_id = $account::bigint AND lower(username) = lower($username)
                """, ["account": found.accountID, "username": username]
            ).first
        }
        guard let user else {
            throw SignInError(.noAccount, "no account of district \(districtCleverID) has that username")
        }
        let cleverID = try database { try user.optionalString("clever_id") }
        let usernameIsCleverID = try database { try user.string("username").lowercased() == cleverID?.lowercased() }
        if try database({ try user.string("source") }) == "clever" && (cleverID == nil || usernameIsCleverID) {
            throw SignInError(
                .cleverOnly,
                "the account's username is its Clever id, not a district username; it signs in through Clever only")
        }
        return try account(user, districtCleverID: districtCleverID)
    }

    private func account(_ user: PostgresRow, districtCleverID: String) throws -> SignInAccount {
        try database {
            if try user.bool("deleted") {
                throw SignInError(.accountDeleted, "the account of district \(districtCleverID) is soft deleted")
            }
            return SignInAccount(
                username: try user.string("username"), role: try user.string("role"),
                cleverID: try user.optionalString("clever_id"))
        }
    }

    private struct District {
        let accountID: Int
        let cleverSSO: Bool
        let providers: [SignInProvider]
    }

    private func district(_ cleverID: String) throws -> District {
        let row = try database {
            try connection.run(
                """
                SELECT d.account_id, d.clever_sso, coalesce(s.providers, '{}') AS providers
                FROM districts d LEFT JOIN district_sign_in s ON s.account_id = d.account_id
                WHERE d.clever_id = $district
                """, ["district": cleverID]
            ).first
        }
        guard let row else { throw SignInError(.districtNotFound, "no district with Clever id \(cleverID) is set up") }
        return try database {
            District(
                accountID: try row.int("account_id"), cleverSSO: try row.bool("clever_sso"),
                providers: try row.stringArray("providers").compactMap(SignInProvider.init(rawValue:)))
        }
    }

    @discardableResult
    private func database<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SignInError {
            throw error
        } catch {
            throw SignInError(.database, String(describing: error))
        }
    }
}
