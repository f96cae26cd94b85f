import Foundation
import RosterCore

/// Reads a district from a dataset folder laid out as the API answers: one `<collection>.json` per
/// collection in the list shape (large collections may be split as `<collection>-NNN.json`).
///
/// Used by tests and by `rostersync sync --dataset`; the fleet reads the API through `CleverFetcher`.
public struct CleverDatasetSource: CleverDistrictSource {
    public let folder: URL
    /// Records per delivered batch, like a page of the API. Defaults to 10,000.
    public var batchSize: Int

    public init(folder: URL, batchSize: Int = 10_000) {
        self.folder = folder
        self.batchSize = batchSize
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func fetchAll(_ consume: (CleverBatch) throws -> Void) throws -> CleverFetchStats {
        var stats = CleverFetchStats()
        try read("districts", CleverDistrict.self, &stats) { try consume(.districts($0)) }
        try read("schools", CleverSchool.self, &stats) { try consume(.schools($0)) }
        try read("terms", CleverTerm.self, &stats) { try consume(.terms($0)) }
        try read("sections", CleverSection.self, &stats) { try consume(.sections($0)) }
        try read("users", CleverUser.self, &stats) { try consume(.users($0)) }
        return stats
    }

    private func read<Record: Decodable & Sendable>(
        _ collection: String, _ type: Record.Type, _ stats: inout CleverFetchStats,
        _ deliver: ([Record]) throws -> Void
    ) throws {
        let files = try filesOf(collection)
        for file in files {
            let data: Data
            do {
                data = try Data(contentsOf: file)
            } catch {
                throw Failure(description: "cannot read \(file.lastPathComponent) in the dataset: \(error)")
            }
            let started = Date()
            let page: CleverPage<Record>
            do {
                page = try JSONDecoder().decode(CleverPage<Record>.self, from: data)
            } catch {
                throw Failure(description: "\(file.lastPathComponent) is not a Clever list page: \(error)")
            }
            stats.decodeSeconds += Date().timeIntervalSince(started)
            stats.bytes += data.count
            stats.records += page.records.count
            var start = 0
            while start < page.records.count {
                let end = min(start + batchSize, page.records.count)
                stats.pages += 1
                try deliver(Array(page.records[start..<end]))
                start = end
            }
        }
    }

    private func filesOf(_ collection: String) throws -> [URL] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw Failure(description: "the dataset folder \(folder.lastPathComponent) cannot be read")
        }
        let matching = names.filter {
            $0 == "\(collection).json" || ($0.hasPrefix("\(collection)-") && $0.hasSuffix(".json"))
        }
        // A missing file must not read as an empty collection: that would look like a district that
        // shares no users, and a first sync would roster nothing without a word.
        guard !matching.isEmpty else {
            throw Failure(description: "the dataset folder \(folder.lastPathComponent) has no \(collection).json")
        }
        return matching.sorted().map { folder.appendingPathComponent($0) }
    }
}
