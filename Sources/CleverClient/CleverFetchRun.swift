import Foundation
import RosterCore

/// What the threads of one fetch share: the work still to do, the decoded pages waiting for the consumer,
/// the first failure, and the stop signal. One lock guards it all; every wait wakes on a stop.
///
/// Pages wait in a buffer of `capacity` batches: a fetching thread that finds it full blocks until the
/// consumer takes one, so memory stays bounded by the buffer, not by the district's size.
final class CleverFetchRun: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [CleverCursor] = []
    private var running = 0
    private var batches: [CleverBatch] = []
    private let capacity: Int
    private var producers: Int
    private var stopped = false
    private(set) var failure: (any Error)?
    private var stats = CleverFetchStats()

    init(cursors: [CleverCursor], capacity: Int, producers: Int) {
        self.pending = cursors
        self.capacity = capacity
        self.producers = producers
    }

    // MARK: Cursors

    /// The next cursor to page through, waiting while a running cursor may still add work; nil when
    /// all is done or the fetch stopped.
    func nextCursor() -> CleverCursor? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && running > 0 && !stopped { condition.wait() }
        guard !stopped, !pending.isEmpty else { return nil }
        running += 1
        return pending.removeFirst()
    }

    /// Adds cursors found while paging another (the per-school lists once the schools are known).
    func add(_ cursors: [CleverCursor]) {
        condition.lock()
        pending.append(contentsOf: cursors)
        condition.broadcast()
        condition.unlock()
    }

    func cursorFinished() {
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Batches

    /// Hands a decoded page to the consumer, waiting while the buffer is full.
    ///
    /// - Throws: `CleverError.cancelled` when the fetch stopped.
    func put(_ batch: CleverBatch) throws {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= capacity && !stopped { condition.wait() }
        if stopped { throw CleverFetchRun.cancelled }
        batches.append(batch)
        condition.broadcast()
    }

    /// The next batch for the consumer; nil when every fetching thread has finished and the buffer is
    /// empty, or when the fetch stopped.
    func take() -> CleverBatch? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty && producers > 0 && !stopped { condition.wait() }
        guard !stopped, !batches.isEmpty else { return nil }
        let batch = batches.removeFirst()
        condition.broadcast()
        return batch
    }

    func producerFinished(_ workerStats: CleverFetchStats) {
        condition.lock()
        producers -= 1
        stats.pages += workerStats.pages
        stats.requests += workerStats.requests
        stats.retries += workerStats.retries
        stats.records += workerStats.records
        stats.bytes += workerStats.bytes
        stats.decodeSeconds += workerStats.decodeSeconds
        condition.broadcast()
        condition.unlock()
    }

    var totals: CleverFetchStats {
        condition.lock()
        defer { condition.unlock() }
        return stats
    }

    // MARK: Stopping

    /// Records the first failure and stops every thread; later failures (often just the stop itself
    /// seen by another thread) are dropped.
    func fail(_ error: any Error) {
        condition.lock()
        if failure == nil { failure = error }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    func checkNotStopped() throws {
        if isStopped { throw CleverFetchRun.cancelled }
    }

    /// Sleeps until `date`, waking early on a stop.
    ///
    /// - Throws: `CleverError.cancelled` when the fetch stopped.
    func sleep(until date: Date) throws {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && Date() < date { _ = condition.wait(until: date) }
        if stopped { throw CleverFetchRun.cancelled }
    }

    static let cancelled = CleverError(code: .cancelled, message: "the fetch was stopped")
}

/// One list to page through, and what its records are.
struct CleverCursor: Sendable {
    enum Kind: Sendable {
        case districts, schools, terms, sections, users
    }

    let kind: Kind
    /// A name for logs, such as `users.student` or `schools.<id>.sections`.
    let name: String
    /// The host-relative path and query of the first page, without `limit`.
    let path: String
}
