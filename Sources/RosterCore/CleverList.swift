/// A page of a Clever v3.0 list: `{"data": [{"data": {...}, "uri": "..."}], "links": [...]}`.
public struct CleverPage<Record: Decodable & Sendable>: Decodable, Sendable {
    public var records: [Record]
    public var links: [CleverLink]

    public init(records: [Record], links: [CleverLink]) {
        self.records = records
        self.links = links
    }

    /// The host-relative URI of the next page, when Clever gave one.
    public var nextURI: String? {
        links.first { $0.rel == "next" }?.uri
    }

    enum CodingKeys: String, CodingKey {
        case data, links
    }

    struct Envelope: Decodable {
        let data: Record
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        records = try (container.decodeIfPresent([Envelope].self, forKey: .data) ?? []).map(\.data)
        links = (try? container.decodeIfPresent([CleverLink].self, forKey: .links)) ?? []
    }
}

/// One answer for a single object: `{"data": {...}, "links": [...]}`.
public struct CleverObject<Record: Decodable & Sendable>: Decodable, Sendable {
    public var data: Record
}

public struct CleverLink: Decodable, Sendable, Equatable {
    public var rel: String
    public var uri: String

    public init(rel: String, uri: String) {
        self.rel = rel
        self.uri = uri
    }
}
