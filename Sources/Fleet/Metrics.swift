import Foundation
import RosterSupport

/// A worker's counters, written in Prometheus' text format to a file that node_exporter's textfile
/// collector reads. Counters only grow for the life of the process; Prometheus handles restarts.
public final class Metrics: @unchecked Sendable {
    private let lock = NSLock()
    private let path: String?
    private let labels: String
    private var jobs: [String: Int] = [:]
    private var durationSum: Double = 0
    private var durationCount = 0
    private var pages = 0
    private var requests = 0
    private var rowsWritten = 0
    private var inFlight = 0

    /// - Parameters:
    ///   - path: where to write; nil keeps the counters in memory only.
    ///   - worker: the worker's name, written as the `worker` label.
    public init(path: String?, worker: String) {
        self.path = path
        self.labels = "worker=\"\(Metrics.escape(worker))\""
    }

    public func jobStarted() {
        update { $0.inFlight += 1 }
    }

    /// Records a finished job: its outcome (`completed`, `failed`, `held`, `blocked`, `retried`), its
    /// duration, and what it fetched and wrote.
    public func jobFinished(outcome: String, seconds: Double, pages: Int, requests: Int, rowsWritten: Int) {
        update { metrics in
            metrics.inFlight -= 1
            metrics.jobs[outcome, default: 0] += 1
            metrics.durationSum += seconds
            metrics.durationCount += 1
            metrics.pages += pages
            metrics.requests += requests
            metrics.rowsWritten += rowsWritten
        }
    }

    /// The file's text.
    public func render() -> String {
        lock.lock()
        defer { lock.unlock() }
        var lines: [String] = []
        lines.append("# HELP rostersync_jobs_total Sync jobs finished, by outcome.")
        lines.append("# TYPE rostersync_jobs_total counter")
        for outcome in jobs.keys.sorted() {
            lines.append("rostersync_jobs_total{\(labels),outcome=\"\(outcome)\"} \(jobs[outcome]!)")
        }
        lines.append("# HELP rostersync_job_duration_seconds Time from taking a job to acknowledging it.")
        lines.append("# TYPE rostersync_job_duration_seconds summary")
        lines.append("rostersync_job_duration_seconds_sum{\(labels)} \(durationSum)")
        lines.append("rostersync_job_duration_seconds_count{\(labels)} \(durationCount)")
        lines.append("# HELP rostersync_jobs_in_flight Sync jobs running now.")
        lines.append("# TYPE rostersync_jobs_in_flight gauge")
        lines.append("rostersync_jobs_in_flight{\(labels)} \(inFlight)")
        lines.append("# HELP rostersync_clever_pages_total Clever pages fetched.")
        lines.append("# TYPE rostersync_clever_pages_total counter")
        lines.append("rostersync_clever_pages_total{\(labels)} \(pages)")
        lines.append("# HELP rostersync_clever_requests_total Clever requests made, retries included.")
        lines.append("# TYPE rostersync_clever_requests_total counter")
        lines.append("rostersync_clever_requests_total{\(labels)} \(requests)")
        lines.append("# HELP rostersync_rows_written_total Roster rows created, updated, soft deleted or restored.")
        lines.append("# TYPE rostersync_rows_written_total counter")
        lines.append("rostersync_rows_written_total{\(labels)} \(rowsWritten)")
        return lines.joined(separator: "\n") + "\n"
    }

    private func update(_ change: (Metrics) -> Void) {
        lock.lock()
        change(self)
        lock.unlock()
        write()
    }

    /// Writes through a temporary file and a rename, so the collector never reads half a file.
    private func write() {
        guard let path else { return }
        let temporary = path + ".tmp"
        do {
            try Data(render().utf8).write(to: URL(fileURLWithPath: temporary))
            _ = rename(temporary, path)
        } catch {
            // Metrics must never fail a sync; a missing file shows up as a gap in the graphs.
        }
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
