import CRabbitMQ
import Foundation

/// A value in an AMQP field table: queue arguments (`x-queue-type`, `x-delivery-limit`, ...) and message
/// headers (`x-delivery-count`, `x-death`, ...).
///
/// Callers usually write literals: `["x-queue-type": "quorum", "x-delivery-limit": 5, "x-single-active": true]`.
/// Integers go out as signed 64-bit (`l`), which RabbitMQ accepts for every numeric argument. Integers of any
/// width read back as `.int`.
public enum AMQPValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    /// Whole seconds since 1970, as AMQP timestamps carry (`x-death`'s `time`).
    case timestamp(Date)
    case array([AMQPValue])
    case table([String: AMQPValue])
    case bytes([UInt8])
    case null

    /// The string inside, or nil for other kinds.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer inside, or nil for other kinds.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The array inside, or nil for other kinds.
    public var arrayValue: [AMQPValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The table inside, or nil for other kinds.
    public var tableValue: [String: AMQPValue]? {
        if case .table(let value) = self { return value }
        return nil
    }
}

extension AMQPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension AMQPValue {
    /// Reads a field table that rabbitmq-c decoded; everything is copied out of the library's memory.
    static func decode(_ table: amqp_table_t) -> [String: AMQPValue] {
        var result: [String: AMQPValue] = [:]
        guard let entries = table.entries else { return result }
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            result[copiedString(entry.key)] = decode(entry.value)
        }
        return result
    }

    static func decode(_ field: amqp_field_value_t) -> AMQPValue {
        let value = field.value
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: return .bool(value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: return .int(Int64(value.i8))
        case AMQP_FIELD_KIND_U8.rawValue: return .int(Int64(value.u8))
        case AMQP_FIELD_KIND_I16.rawValue: return .int(Int64(value.i16))
        case AMQP_FIELD_KIND_U16.rawValue: return .int(Int64(value.u16))
        case AMQP_FIELD_KIND_I32.rawValue: return .int(Int64(value.i32))
        case AMQP_FIELD_KIND_U32.rawValue: return .int(Int64(value.u32))
        case AMQP_FIELD_KIND_I64.rawValue: return .int(value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: return .int(Int64(truncatingIfNeeded: value.u64))
        case AMQP_FIELD_KIND_F32.rawValue: return .double(Double(value.f32))
        case AMQP_FIELD_KIND_F64.rawValue: return .double(value.f64)
        case AMQP_FIELD_KIND_DECIMAL.rawValue:
            let decimal = value.decimal
            return .double(Double(decimal.value) / pow(10, Double(decimal.decimals)))
        case AMQP_FIELD_KIND_UTF8.rawValue: return .string(copiedString(value.bytes))
        case AMQP_FIELD_KIND_BYTES.rawValue: return .bytes(copiedBytes(value.bytes))
        case AMQP_FIELD_KIND_TIMESTAMP.rawValue: return .timestamp(Date(timeIntervalSince1970: Double(value.u64)))
        case AMQP_FIELD_KIND_TABLE.rawValue: return .table(decode(value.table))
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            guard let entries = value.array.entries else { return .array([]) }
            return .array((0..<Int(value.array.num_entries)).map { decode(entries[$0]) })
        default: return .null
        }
    }
}

/// Memory for the C structures of one call (tables, strings, properties), freed all at once by `release()`.
///
/// rabbitmq-c only borrows what it is given for the length of a call, so each call builds its arguments
/// here and releases them after. This avoids `amqp_cstring_bytes` on a Swift string, whose pointer dies at
/// once.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    func release() {
        allocations.forEach { free($0) }
        allocations.removeAll()
    }

    deinit { release() }

    func bytes(_ text: String) -> amqp_bytes_t {
        bytes(Array(text.utf8))
    }

    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        let memory = allocate(max(data.count, 1))
        data.withUnsafeBytes { source in
            if let base = source.baseAddress { memory.copyMemory(from: base, byteCount: data.count) }
        }
        return amqp_bytes_t(len: data.count, bytes: memory)
    }

    /// A C string copy, for the few calls that take `const char *`.
    func cString(_ text: String) -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8CString)
        let memory = allocate(utf8.count)
        utf8.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
        return UnsafePointer(memory.assumingMemoryBound(to: CChar.self))
    }

    func table(_ values: [String: AMQPValue]) -> amqp_table_t {
        guard !values.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(values.count * MemoryLayout<amqp_table_entry_t>.stride)
            .bindMemory(to: amqp_table_entry_t.self, capacity: values.count)
        // Sorted so the same arguments always encode the same way; the broker compares them on redeclare.
        for (index, (key, value)) in values.sorted(by: { $0.key < $1.key }).enumerated() {
            (entries + index).initialize(to: amqp_table_entry_t(key: bytes(key), value: field(value)))
        }
        return amqp_table_t(num_entries: Int32(values.count), entries: entries)
    }

    func field(_ value: AMQPValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .string(let text):
            field.kind = kind(AMQP_FIELD_KIND_UTF8)
            field.value.bytes = bytes(text)
        case .int(let number):
            field.kind = kind(AMQP_FIELD_KIND_I64)
            field.value.i64 = number
        case .bool(let flag):
            field.kind = kind(AMQP_FIELD_KIND_BOOLEAN)
            field.value.boolean = flag ? 1 : 0
        case .double(let number):
            field.kind = kind(AMQP_FIELD_KIND_F64)
            field.value.f64 = number
        case .timestamp(let date):
            field.kind = kind(AMQP_FIELD_KIND_TIMESTAMP)
            field.value.u64 = UInt64(max(0, date.timeIntervalSince1970))
        case .array(let values):
            field.kind = kind(AMQP_FIELD_KIND_ARRAY)
            let entries = allocate(max(values.count, 1) * MemoryLayout<amqp_field_value_t>.stride)
                .bindMemory(to: amqp_field_value_t.self, capacity: max(values.count, 1))
            for (index, element) in values.enumerated() { (entries + index).initialize(to: self.field(element)) }
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: entries)
        case .table(let values):
            field.kind = kind(AMQP_FIELD_KIND_TABLE)
            field.value.table = table(values)
        case .bytes(let data):
            field.kind = kind(AMQP_FIELD_KIND_BYTES)
            field.value.bytes = bytes(data)
        case .null:
            field.kind = kind(AMQP_FIELD_KIND_VOID)
        }
        return field
    }

    private func kind(_ kind: amqp_field_value_kind_t) -> UInt8 {
        UInt8(kind.rawValue)
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        guard let memory = malloc(size) else { fatalError("out of memory allocating \(size) bytes for rabbitmq-c") }
        allocations.append(memory)
        return memory
    }
}
