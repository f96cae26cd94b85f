import Foundation

/// A TCP proxy for one connection that can go silent without closing, as a dead network path does: after
/// `freeze()` it keeps both sockets open but drops every byte, so neither side hears the other.
///
/// Shared between the test thread and its pump threads; every mutable field is behind `lock`.
final class FreezableProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var frozen = false
    private var sockets: [Int32] = []

    init(targetPort: Int) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 1) == 0
                    && getsockname(listener, generic, &length) == 0
            }
        }
        guard bound else { throw FixtureFailure(description: "the proxy could not listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptOne(targetPort: targetPort) }
    }

    func freeze() {
        lock.withLock { frozen = true }
    }

    /// Closes every socket, which ends the pump threads.
    func close() {
        let all = lock.withLock {
            defer { sockets.removeAll() }
            return sockets + [listener]
        }
        for descriptor in all { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    private func acceptOne(targetPort: Int) {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: targetPort)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        lock.withLock { sockets += [client, server] }
        guard connected else { return close() }
        Thread.detachNewThread { [self] in pump(from: client, to: server) }
        Thread.detachNewThread { [self] in pump(from: server, to: client) }
    }

    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            if lock.withLock({ frozen }) { continue }
            let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress, count) }
            guard written == count else { return }
        }
    }
}

private func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return address
}
