import AMQPClient
import Fleet

/// Removes a test's queues and exchanges from the shared broker.
struct AMQPConnectionForCleanup {
    let connection: AMQPConnection

    init(url: String) throws {
        connection = try AMQPConnection(url: url)
    }

    func delete(_ topology: FleetTopology) {
        let queues =
            [topology.jobsQueue, topology.highPriorityQueue, topology.deadLetterQueue]
            + topology.retryDelays.indices.map(topology.retryQueue)
        for queue in queues { _ = try? connection.deleteQueue(queue) }
        _ = try? connection.deleteExchange(topology.eventsExchange)
        _ = try? connection.deleteExchange(topology.deadLetterExchange)
        connection.close()
    }
}
