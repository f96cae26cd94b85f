/// Clever's grade names, and the district setting that says which of them are rostered.
///
/// Clever sends grades as free text from the district's SIS. We read the names Clever documents
/// (PreKindergarten, TransitionalKindergarten, Kindergarten, 1–13, PostGraduate, Ungraded, Other) and the
/// short forms people type (PK, TK, K, leading zeros), and keep anything else as it came so a grade nobody
/// listed is never silently turned into another one.
public enum CleverGrade {
    /// The grades in school order; `Ungraded` and `Other` have no place in a range.
    public static let ordered: [String] =
        ["PreKindergarten", "TransitionalKindergarten", "Kindergarten"] + (1...13).map(String.init) + ["PostGraduate"]

    /// Grades that are accepted in a list but cannot be the end of a range.
    public static let unordered: [String] = ["Ungraded", "Other"]

    /// The canonical name of `raw` (`"K"` gives `"Kindergarten"`, `"07"` gives `"7"`), the trimmed text
    /// itself when it is not a known grade, or nil when it is missing or blank.
    public static func normalize(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let text = raw.trimmingWhitespace()
        guard !text.isEmpty else { return nil }
        return known(text) ?? text
    }

    /// The canonical name when `text` is a grade we know, else nil.
    static func known(_ text: String) -> String? {
        let key = text.lowercased().filter { $0 != " " && $0 != "-" && $0 != "_" }
        switch key {
        case "pk", "prek", "prekindergarten": return "PreKindergarten"
        case "tk", "transitionalkindergarten": return "TransitionalKindergarten"
        case "k", "kg", "kindergarten": return "Kindergarten"
        case "pg", "postgraduate": return "PostGraduate"
        case "ungraded": return "Ungraded"
        case "other": return "Other"
        default:
            guard let number = Int(key), (1...13).contains(number) else { return nil }
            return String(number)
        }
    }
}

/// Which grades a district rosters: every grade, or a set of canonical grade names.
public enum GradeSelection: Sendable, Equatable {
    case all
    case only(Set<String>)

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Reads `all`, a list (`3,4,5`), ranges (`K-5`, `PK-2`) or a mix (`K-2,Ungraded`).
    ///
    /// - Throws: `ParseError` naming the part that is not a grade or not a valid range.
    public static func parse(_ text: String) throws -> GradeSelection {
        let trimmed = text.trimmingWhitespace()
        if trimmed.lowercased() == "all" { return .all }
        var grades = Set<String>()
        for part in trimmed.split(separator: ",").map({ String($0).trimmingWhitespace() }) {
            guard !part.isEmpty else { continue }
            grades.formUnion(try parsePart(part))
        }
        guard !grades.isEmpty else {
            throw ParseError(description: "--grades needs all, a list or a range such as K-5")
        }
        return .only(grades)
    }

    private static func parsePart(_ part: String) throws -> [String] {
        if let single = CleverGrade.known(part) { return [single] }
        let ends = part.split(separator: "-", maxSplits: 1).map { String($0).trimmingWhitespace() }
        guard ends.count == 2, let low = CleverGrade.known(ends[0]), let high = CleverGrade.known(ends[1]),
            let lowIndex = CleverGrade.ordered.firstIndex(of: low),
            let highIndex = CleverGrade.ordered.firstIndex(of: high), lowIndex <= highIndex
        else {
            throw ParseError(description: "'\(part)' is not a grade or a range of grades such as K-5")
        }
        return Array(CleverGrade.ordered[lowIndex...highIndex])
    }

    /// The grades in school order, or nil for all; how the store keeps the setting.
    public var sortedGrades: [String]? {
        guard case .only(let grades) = self else { return nil }
        let order = CleverGrade.ordered + CleverGrade.unordered
        return grades.sorted { (order.firstIndex(of: $0) ?? order.count) < (order.firstIndex(of: $1) ?? order.count) }
    }

    public func allows(_ grade: String?) -> Bool {
        switch self {
        case .all: return true
        case .only(let grades): return grade.map { grades.contains($0) } ?? false
        }
    }
}

/// Which shared schools a district rosters: all, or a list of Clever school ids.
public enum SchoolSelection: Sendable, Equatable {
    case all
    case only([String])

    /// Reads `all` or a comma-separated list of Clever ids (24 lowercase hex characters), kept sorted and
    /// without repeats. Anything else is refused: a mistyped id would match no school and quietly leave
    /// that school's users unrostered.
    public static func parse(_ text: String) throws -> SchoolSelection {
        let trimmed = text.trimmingWhitespace()
        if trimmed.lowercased() == "all" { return .all }
        let ids = Set(trimmed.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty })
        guard !ids.isEmpty else {
            throw GradeSelection.ParseError(description: "--schools needs all or a list of Clever school ids")
        }
        if let bad = ids.sorted().first(where: { !isCleverID($0) }) {
            throw GradeSelection.ParseError(
                description: "--schools takes all or Clever school ids (24 lowercase hex characters), not '\(bad)'")
        }
        return .only(ids.sorted())
    }

    static func isCleverID(_ text: String) -> Bool {
        text.utf8.count == 24 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The ids sorted without repeats, or nil for all; how the store keeps the setting.
    public var ids: [String]? {
        guard case .only(let ids) = self else { return nil }
        return Set(ids).sorted()
    }
}

extension String {
    /// The text without leading and trailing spaces, tabs and line breaks (Foundation-free, for the pure core).
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
