import Foundation
import PostgresClient

/// One record of a CSV file, with the line of the file it starts on (1-based).
struct CSVRecord: Equatable {
    let line: Int
    let fields: [String]
}

/// Reads a CSV file with PostgreSQL's own CSV parser (`COPY ... WITH (FORMAT csv)`) into records that
/// know the line they start on, in a temp table of the caller's connection.
///
/// PostgreSQL does the parsing: quoted fields with commas, doubled quotes and line breaks, CRLF or LF.
/// Two passes, because COPY wants a fixed number of columns:
/// 1. the whole file into one column, with a delimiter byte the file does not contain, gives PostgreSQL's
///    record boundaries; the line breaks inside each record give the line every record starts on;
/// 2. each non-blank record, cut from the file by those lines, into as many text columns as the header
///    has fields. A record whose field count differs from the header's is reported by line, not sent.
///
/// The file's bytes reach the server unchanged (`PostgresCopyWriter.writeRaw`).
struct CSVReader {
    let connection: PostgresConnection

    struct Malformed: Error {
        let problems: [AdminImportProblem]
    }

    /// The file's records, the header first; blank lines are left out.
    ///
    /// - Throws: `Malformed` with one problem per line that cannot be read (not UTF-8, field counts that
    ///   differ from the header's); `PostgresError`.
    func records(of data: Data) throws -> [CSVRecord] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        // Old spreadsheet programs end lines with CR alone; a file with no LF at all is read that way.
        if !bytes.contains(10) { bytes = bytes.map { $0 == 13 ? 10 : $0 } }
        guard String(bytes: bytes, encoding: .utf8) != nil else {
            throw Malformed(problems: [AdminImportProblem(line: 1, column: nil, message: "the file is not UTF-8 text")])
        }
        let lines = Self.physicalLines(bytes)
        let spans = try recordSpans(lines)
        let nonBlank = spans.filter { span in
            !lines[span].allSatisfy { line in line.allSatisfy { [32, 9, 13].contains($0) } }
        }
        guard let header = nonBlank.first else {
            throw Malformed(problems: [AdminImportProblem(line: 1, column: nil, message: "the file has no header")])
        }
        let width = Self.fieldCount(Array(lines[header].joined(separator: [10])))
        var problems: [AdminImportProblem] = []
        for span in nonBlank.dropFirst() {
            let count = Self.fieldCount(Array(lines[span].joined(separator: [10])))
            if count != width {
                problems.append(
                    AdminImportProblem(
                        line: span.lowerBound + 1, column: nil,
                        message: "\(count) field\(count == 1 ? "" : "s") where the header has \(width)"))
            }
        }
        if !problems.isEmpty { throw Malformed(problems: problems) }
        let rows = try fields(of: nonBlank.map { Array(lines[$0]) }, width: width)
        return zip(nonBlank, rows).map { CSVRecord(line: $0.0.lowerBound + 1, fields: $0.1) }
    }

    /// Pass 1: the file as one column; the index ranges of the physical lines each record spans.
    private func recordSpans(_ lines: [ArraySlice<UInt8>]) throws -> [Range<Int>] {
        let present = Set(lines.joined())
        // A control byte the file does not hold, so no field is ever split; names no user data.
        guard
            let delimiter = (Array(1...8) + [11, 12] + Array(14...31)).map(UInt8.init).first(where: {
                !present.contains($0)
            })
        else {
            throw Malformed(
                problems: [AdminImportProblem(line: 1, column: nil, message: "the file holds every control character")])
        }
        try connection.execute("DROP TABLE IF EXISTS csv_records")
        try connection.execute("CREATE TEMP TABLE csv_records (n int GENERATED ALWAYS AS IDENTITY, record text)")
        let hex = String(delimiter, radix: 16)
        try connection.copyIn(
            "COPY csv_records (record) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x\(hex)')"
        ) { writer in try Self.send(lines, writer) }
        var spans: [Range<Int>] = []
        var next = 0
        for row in try connection.query("SELECT record FROM csv_records ORDER BY n") {
            let breaks = (try row.optionalString("record") ?? "").utf8.filter { $0 == 10 }.count
            spans.append(next..<(next + breaks + 1))
            next += breaks + 1
        }
        return spans
    }

    /// Pass 2: the records into `width` text columns, decoded; NULL (an empty unquoted field) reads as "".
    private func fields(of records: [[ArraySlice<UInt8>]], width: Int) throws -> [[String]] {
        let columns = (1...width).map { "c\($0)" }
        try connection.execute("DROP TABLE IF EXISTS csv_fields")
        try connection.execute(
            "CREATE TEMP TABLE csv_fields (n int GENERATED ALWAYS AS IDENTITY, "
                + columns.map { "\($0) text" }.joined(separator: ", ") + ")")
        try connection.copyIn(
            "COPY csv_fields (\(columns.joined(separator: ", "))) FROM STDIN WITH (FORMAT csv, HEADER false)"
        ) { writer in
            for record in records { try Self.send(record, writer) }
        }
        return try connection.query("SELECT \(columns.joined(separator: ", ")) FROM csv_fields ORDER BY n").map {
            row in try columns.map { try row.optionalString($0) ?? "" }
        }
    }

    /// The file split at LF; a final LF does not start another line.
    static func physicalLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
        if bytes.last == 10 { lines.removeLast() }
        return lines
    }

    /// Sends physical lines as they are, each ended by LF.
    private static func send(_ lines: [ArraySlice<UInt8>], _ writer: PostgresCopyWriter) throws {
        for line in lines {
            try writer.writeRaw(line)
            try writer.writeRaw(CollectionOfOne(10))
        }
    }

    /// Fields in one record's raw text: commas outside quotes, plus one. A doubled quote toggles twice, so
    /// this agrees with PostgreSQL, which also treats a quote anywhere in a field as opening a quoted part.
    static func fieldCount(_ raw: [UInt8]) -> Int {
        var count = 1
        var quoted = false
        for byte in raw {
            if byte == 34 {
                quoted.toggle()
            } else if byte == 44 && !quoted {
                count += 1
            }
        }
        return count
    }
}
