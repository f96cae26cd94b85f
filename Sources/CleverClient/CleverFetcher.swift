import Foundation
import HTTPClient
import RosterCore
import RosterSupport

/// Reads one district from the Clever Data API v3.0 with the district's bearer token.
///
/// The district is split into cursors that are paged at once on `maxConnections` threads, each with its
/// own connection: districts, schools, terms, and users per role (`/v3.0/users?role=...`; contacts only
/// when asked for, since the roster ignores them). Once the schools are in, students and sections follow:
/// with `schoolSplitMinimum` to `schoolSplitMaximum` schools, one cursor per school for each
/// (`/v3.0/schools/{id}/users?role=student`, `/v3.0/schools/{id}/sections`), else one district-wide
/// cursor each. Sections of different schools are disjoint, but a student listed in several schools
/// arrives once per school (and a teacher who is also staff once per role): consumers dedupe by id.
///
/// Pages are decoded on the fetching threads and wait in a buffer of `maxBufferedPages`; `fetchAll`
/// hands them to `consume` on the calling thread. A failure anywhere, or a throwing `consume`, stops
/// every thread and is thrown from `fetchAll`; a failed fetch never ends as a short or empty district.
public struct CleverFetcher: CleverDistrictSource, Sendable {
    public let configuration: CleverConfiguration
    /// Whether to read `/v3.0/users?role=contact` too. Defaults to false.
    public var includeContacts: Bool
    private let token: String
    private let logger: Logger
    private let budget: CleverRateBudget

    /// - Parameters:
    ///   - token: the district's bearer token; it is sent to `configuration.apiURL` only, never logged.
    ///   - logger: gets a debug line per page with `clever.collection`, `clever.page`, `clever.status`.
    public init(
        token: String, configuration: CleverConfiguration = CleverConfiguration(), includeContacts: Bool = false,
        logger: Logger
    ) {
        self.token = token
        self.configuration = configuration
        self.includeContacts = includeContacts
        self.logger = logger
        // One budget per token: every fetch of this fetcher shares it.
        budget = CleverRateBudget(requestsPerMinute: configuration.requestsPerMinute)
    }

    public func fetchAll(_ consume: (CleverBatch) throws -> Void) throws -> CleverFetchStats {
        let threads = max(1, configuration.maxConnections)
        let run = CleverFetchRun(
            cursors: firstCursors(), capacity: max(1, configuration.maxBufferedPages), producers: threads)
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            // Global-queue threads, not Swift's cooperative pool: every call below blocks.
            DispatchQueue.global().async {
                self.work(run)
                group.leave()
            }
        }
        while let batch = run.take() {
            do {
                try consume(batch)
            } catch {
                run.fail(error)
                group.wait()
                throw error
            }
        }
        group.wait()
        if let failure = run.failure { throw failure }
        return run.totals
    }

    private func firstCursors() -> [CleverCursor] {
        var cursors = [
            CleverCursor(kind: .schools, name: "schools", path: "/v3.0/schools"),
            CleverCursor(kind: .districts, name: "districts", path: "/v3.0/districts"),
            CleverCursor(kind: .terms, name: "terms", path: "/v3.0/terms"),
        ]
        for role in ["teacher", "staff", "district_admin"] + (includeContacts ? ["contact"] : []) {
            cursors.append(CleverCursor(kind: .users, name: "users.\(role)", path: "/v3.0/users?role=\(role)"))
        }
        return cursors
    }

    /// Students and sections, once the schools are known.
    private func schoolCursors(_ schools: [String]) -> [CleverCursor] {
        guard
            (configuration.schoolSplitMinimum...max(configuration.schoolSplitMinimum, configuration.schoolSplitMaximum))
                .contains(schools.count)
        else {
            return [
                CleverCursor(kind: .users, name: "users.student", path: "/v3.0/users?role=student"),
                CleverCursor(kind: .sections, name: "sections", path: "/v3.0/sections"),
            ]
        }
        return schools.flatMap { school in
            [
                CleverCursor(
                    kind: .users, name: "schools.\(school).students", path: "/v3.0/schools/\(school)/users?role=student"
                ),
                CleverCursor(
                    kind: .sections, name: "schools.\(school).sections", path: "/v3.0/schools/\(school)/sections"),
            ]
        }
    }

    /// One fetching thread: pages cursors until none are left or the fetch stops.
    private func work(_ run: CleverFetchRun) {
        let requester: CleverRequester
        do {
            requester = try CleverRequester(
                configuration: configuration, authorization: "Bearer \(token)", budget: budget, run: run,
                logger: logger)
        } catch {
            run.fail(error)
            run.producerFinished(CleverFetchStats())
            return
        }
        while let cursor = run.nextCursor() {
            do {
                try page(cursor, requester, run)
            } catch {
                run.fail(error)
            }
            run.cursorFinished()
        }
        run.producerFinished(requester.stats)
    }

    private func page(_ cursor: CleverCursor, _ requester: CleverRequester, _ run: CleverFetchRun) throws {
        switch cursor.kind {
        case .districts:
            try page(cursor, CleverDistrict.self, requester, run) { try run.put(.districts($0)) }
        case .schools:
            var ids: [String] = []
            try page(cursor, CleverSchool.self, requester, run) { schools in
                ids += schools.map(\.id)
                try run.put(.schools(schools))
            }
            run.add(schoolCursors(ids))
        case .terms:
            try page(cursor, CleverTerm.self, requester, run) { try run.put(.terms($0)) }
        case .sections:
            try page(cursor, CleverSection.self, requester, run) { try run.put(.sections($0)) }
        case .users:
            try page(cursor, CleverUser.self, requester, run) { try run.put(.users($0)) }
        }
    }

    /// Follows `links[rel=next]` from the cursor's first page until there is none or a page is empty.
    private func page<Record: Decodable & Sendable>(
        _ cursor: CleverCursor, _ type: Record.Type, _ requester: CleverRequester, _ run: CleverFetchRun,
        _ deliver: ([Record]) throws -> Void
    ) throws {
        var uri = cursor.path
        var limit = configuration.pageSize
        var number = 0
        while true {
            try run.checkNotStopped()
            let response = try requester.send(origin: configuration.apiURL, uri: CleverFetcher.uri(uri, limit: limit))
            if response.status == 413 {
                guard limit > 1 else {
                    throw CleverError(
                        code: .requestFailed, path: cursor.path, status: 413, message: "Clever refused a page of 1")
                }
                limit /= 2
                logger.debug(
                    "page too large; halving the page size",
                    metadata: ["clever.collection": cursor.name, "clever.limit": "\(limit)", "clever.status": "413"])
                continue
            }
            number += 1
            let started = Date()
            let page: CleverPage<Record>
            do {
                page = try JSONDecoder().decode(CleverPage<Record>.self, from: response.body)
            } catch {
                throw CleverError(
                    code: .malformedResponse, path: String(uri.prefix { $0 != "?" }), status: response.status,
                    message: "the answer is not a Clever list page")
            }
            requester.stats.decodeSeconds += Date().timeIntervalSince(started)
            requester.stats.pages += 1
            requester.stats.records += page.records.count
            requester.stats.bytes += response.body.count
            logger.debug(
                "fetched a page",
                metadata: [
                    "clever.collection": cursor.name, "clever.page": "\(number)",
                    "clever.status": "\(response.status)", "clever.records": "\(page.records.count)",
                ])
            if page.records.isEmpty { return }
            try deliver(page.records)
            guard let next = page.nextURI else { return }
            guard next.hasPrefix("/") else {
                // An absolute link could point at another host, which must never see the token.
                throw CleverError(
                    code: .malformedResponse, path: cursor.path, status: response.status,
                    message: "the next link is not host-relative")
            }
            uri = next
        }
    }

    /// `uri` with its `limit` set to `limit`.
    static func uri(_ uri: String, limit: Int) -> String {
        guard var components = URLComponents(string: uri) else { return uri }
        var items = (components.queryItems ?? []).filter { $0.name != "limit" }
        items.insert(URLQueryItem(name: "limit", value: "\(limit)"), at: 0)
        components.queryItems = items
        return components.string ?? uri
    }
}
