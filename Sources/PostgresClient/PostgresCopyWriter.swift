import CLibPQ

/// Writes rows in COPY's text format and sends them to the server in chunks of about 1 MiB.
///
/// Values are escaped here (backslash, tab, newline, carriage return); `nil` is written as NULL.
public final class PostgresCopyWriter {
    private let connection: OpaquePointer
    private var buffer: [UInt8] = []
    private static let chunkSize = 1 << 20
    public private(set) var rowsWritten = 0
    private var rowOpen = false

    init(connection: OpaquePointer) {
        self.connection = connection
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    /// Appends one row. NUL characters, which PostgreSQL text cannot hold, are dropped.
    public func writeRow(_ values: [String?]) throws {
        for value in values { writeField(value) }
        try endRow()
    }

    /// Appends one field of the current row; `endRow()` ends the row. For hot loops, where building an
    /// array per row would cost more than the row itself.
    public func writeField(_ value: String?) {
        if rowOpen { buffer.append(9) }
        rowOpen = true
        guard var value else {
            buffer.append(92)
            buffer.append(78)
            return
        }
        // Native strings hand out their UTF-8 bytes in place; most values need no escaping and are copied
        // in one go.
        let copied = value.withUTF8 { bytes -> Bool in
            guard !bytes.contains(where: { $0 == 0 || $0 == 9 || $0 == 10 || $0 == 13 || $0 == 92 }) else {
                return false
            }
            buffer.append(contentsOf: bytes)
            return true
        }
        if copied { return }
        for byte in value.utf8 {
            switch byte {
            case 0: continue
            case 92: buffer.append(92); buffer.append(92)
            case 9: buffer.append(92); buffer.append(116)
            case 10: buffer.append(92); buffer.append(110)
            case 13: buffer.append(92); buffer.append(114)
            default: buffer.append(byte)
            }
        }
    }

    /// Ends the current row.
    public func endRow() throws {
        buffer.append(10)
        rowOpen = false
        rowsWritten += 1
        if buffer.count >= Self.chunkSize { try flush() }
    }

    /// Appends bytes as they are, for COPY formats this writer does not write itself (such as CSV, whose
    /// parsing is left to the server). The caller is responsible for row ends; rows are not counted.
    public func writeRaw<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        let sent = buffer.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                PQputCopyData(connection, chars.baseAddress, Int32(chars.count))
            }
        }
        guard sent == 1 else { throw PostgresError.fromConnection(connection, code: .copyFailed) }
        buffer.removeAll(keepingCapacity: true)
    }
}
