/// HTTP-date (RFC 9110 §5.6.7) to and from seconds since the Unix epoch, UTC.
///
/// Sent as IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"); received in all three forms, as
/// "A recipient that parses a timestamp value in an HTTP field MUST accept all three HTTP-date
/// formats": IMF-fixdate, rfc850-date ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime-date
/// ("Sun Nov  6 08:49:37 1994").
public enum HTTPDate {
    /// Length of an IMF-fixdate.
    public static let length = 29

    /// Parses any of the three forms; nil if `bytes` is none of them or names an impossible
    /// date. `now` (epoch seconds) places rfc850's two-digit year: "MUST interpret a timestamp
    /// that appears to be more than 50 years in the future as representing the most recent year
    /// in the past that had the same last two digits". Without `now`, years 70–99 are 19xx and
    /// 00–69 are 20xx.
    public static func parse(_ bytes: UnsafeRawBufferPointer, now: Int64? = nil) -> Int64? {
        var s = Scanner(bytes: bytes)
        // IMF-fixdate: day-name "," SP date1 SP time-of-day SP GMT; date1 = day SP month SP year
        if bytes.count == length, bytes[3] == UInt8(ascii: ",") {
            guard s.dayName(short: true), s.literal(", "),
                  let day = s.digits(2), s.literal(" "), let month = s.month(), s.literal(" "),
                  let year = s.digits(4), s.literal(" "), let time = s.timeOfDay(), s.literal(" GMT"), s.atEnd
            else { return nil }
            return seconds(year: year, month: month, day: day, time: time)
        }
        // rfc850-date: day-name-l "," SP date2 SP time-of-day SP GMT; date2 = day "-" month "-" 2DIGIT
        if bytes.firstIndex(of: UInt8(ascii: ",")) != nil {
            guard s.dayName(short: false), s.literal(", "),
                  let day = s.digits(2), s.literal("-"), let month = s.month(), s.literal("-"),
                  let yy = s.digits(2), s.literal(" "), let time = s.timeOfDay(), s.literal(" GMT"), s.atEnd
            else { return nil }
            return seconds(year: fullYear(yy, now: now), month: month, day: day, time: time)
        }
        // asctime-date: day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / ( SP DIGIT ))
        guard s.dayName(short: true), s.literal(" "), let month = s.month(), s.literal(" ") else { return nil }
        let day: Int
        if s.literal(" ") {
            guard let d = s.digits(1) else { return nil }
            day = d
        } else {
            guard let d = s.digits(2) else { return nil }
            day = d
        }
        guard s.literal(" "), let time = s.timeOfDay(), s.literal(" "), let year = s.digits(4), s.atEnd else { return nil }
        return seconds(year: year, month: month, day: day, time: time)
    }

    /// Writes `epochSeconds` as IMF-fixdate, exactly `length` bytes.
    public static func write(_ epochSeconds: Int64, into writer: inout WireWriter) throws(WireError) {
        try writer.require(length, "http.date")
        let days = epochSeconds >= 0 ? epochSeconds / 86400 : (epochSeconds - 86399) / 86400
        let secondOfDay = epochSeconds - days * 86400
        let (year, month, day) = civil(fromDays: days)
        guard (0...9999).contains(year) else { throw WireError(.invalidValue, "http.date", at: writer.count) }
        // 1970-01-01 was a Thursday (index 4 with Sunday = 0).
        let weekday = Int(((days % 7) + 11) % 7)
        try writer.writeBytes(UnsafeRawBufferPointer(rebasing: shortDayNames[weekday * 3..<weekday * 3 + 3]), "http.date")
        try writer.writeBytes(", ", "http.date")
        try writer.writeDecimal(UInt64(day), width: 2, "http.date")
        try writer.writeUInt8(0x20, "http.date")
        try writer.writeBytes(UnsafeRawBufferPointer(rebasing: monthNames[(month - 1) * 3..<month * 3]), "http.date")
        try writer.writeUInt8(0x20, "http.date")
        try writer.writeDecimal(UInt64(year), width: 4, "http.date")
        try writer.writeUInt8(0x20, "http.date")
        try writer.writeDecimal(UInt64(secondOfDay / 3600), width: 2, "http.date")
        try writer.writeUInt8(UInt8(ascii: ":"), "http.date")
        try writer.writeDecimal(UInt64(secondOfDay / 60 % 60), width: 2, "http.date")
        try writer.writeUInt8(UInt8(ascii: ":"), "http.date")
        try writer.writeDecimal(UInt64(secondOfDay % 60), width: 2, "http.date")
        try writer.writeBytes(" GMT", "http.date")
    }

    // MARK: - Calendar (proleptic Gregorian, H. Hinnant's days_from_civil / civil_from_days)

    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func seconds(year: Int, month: Int, day: Int, time: Int64) -> Int64? {
        guard day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return days(year: year, month: month, day: day) * 86400 + time
    }

    private static func fullYear(_ yy: Int, now: Int64?) -> Int {
        guard let now else { return yy < 70 ? 2000 + yy : 1900 + yy }
        let days = now >= 0 ? now / 86400 : (now - 86399) / 86400
        let currentYear = civil(fromDays: days).year
        var year = currentYear - currentYear % 100 + yy
        if year > currentYear + 50 { year -= 100 }
        return year
    }

    // "SunMonTueWedThuFriSat", "JanFeb…": one contiguous literal each, indexed by 3.
    private static var shortDayNames: UnsafeRawBufferPointer { bytes(of: "SunMonTueWedThuFriSat") }
    private static var monthNames: UnsafeRawBufferPointer { bytes(of: "JanFebMarAprMayJunJulAugSepOctNovDec") }

    private static func bytes(of text: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
    }

    /// A cursor for the fixed layouts above; each step consumes on success only.
    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func literal(_ text: StaticString) -> Bool {
            let n = text.utf8CodeUnitCount
            guard bytes.count - offset >= n else { return false }
            for k in 0..<n where bytes[offset + k] != text.utf8Start[k] { return false }
            offset += n
            return true
        }

        mutating func digits(_ n: Int) -> Int? {
            guard bytes.count - offset >= n else { return nil }
            var v = 0
            for k in 0..<n {
                let b = bytes[offset + k]
                guard ASCII.isDigit(b) else { return nil }
                v = v * 10 + Int(b - 0x30)
            }
            offset += n
            return v
        }

        /// Month names are case-sensitive (RFC 9110 §5.6.7 "day-name ... case-sensitive").
        mutating func month() -> Int? {
            guard bytes.count - offset >= 3 else { return nil }
            for m in 0..<12 where (0..<3).allSatisfy({ bytes[offset + $0] == HTTPDate.monthNames[m * 3 + $0] }) {
                offset += 3
                return m + 1
            }
            return nil
        }

        /// A day name: "Mon" if `short`, else "Monday" (rfc850's day-name-l).
        mutating func dayName(short: Bool) -> Bool {
            guard bytes.count - offset >= 3 else { return false }
            for d in 0..<7 where (0..<3).allSatisfy({ bytes[offset + $0] == HTTPDate.shortDayNames[d * 3 + $0] }) {
                if short {
                    offset += 3
                    return true
                }
                let save = offset
                offset += 3
                if literal(longDaySuffixes[d]) { return true }
                offset = save
                return false
            }
            return false
        }

        /// time-of-day = hour ":" minute ":" second; second may be 60 (a leap second).
        mutating func timeOfDay() -> Int64? {
            guard let h = digits(2), h < 24, literal(":"), let m = digits(2), m < 60, literal(":"),
                  let s = digits(2), s <= 60
            else { return nil }
            // A leap second (:60) counts as :59, as POSIX time does: rolling it into the next
            // minute could carry 9999-12-31 into a year no date writer accepts (found by the
            // HTTP property check; kept in fuzz/regressions/FuzzHTTP).
            return Int64(h * 3600 + m * 60 + min(s, 59))
        }
    }
}

private let longDaySuffixes: [StaticString] = ["day", "day", "sday", "nesday", "rsday", "day", "urday"]
