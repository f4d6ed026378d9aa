import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The standalone rack's site file: YAML in, a validated `SiteConfiguration` out
/// (`docs/site-file.md` is the operator's description of the format).
///
/// Every problem in a file is found in one pass. `parse` and `load` throw the first of them in
/// file order (what a reload logs before it keeps the previous tables); `validate` returns them
/// all (what `tables check` prints).
public enum SiteFile {
    /// The largest file `load` reads; far above 100k reservations, far below trouble.
    public static let maximumSize = 64 << 20

    /// Parses site file text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(SiteFileError) -> SiteConfiguration {
        switch decode(text, file: file) {
        case let .success(configuration): return configuration
        case let .failure(errors): throw errors[0]
        }
    }

    /// Reads and parses the file at `path`; errors name it as `path`.
    public static func load(path: String) throws(SiteFileError) -> SiteConfiguration {
        try parse(try readText(path: path), file: path)
    }

    /// Every problem in the text, in file order; empty when it would parse.
    public static func validate(_ text: String, file: String) -> [SiteFileError] {
        switch decode(text, file: file) {
        case .success: return []
        case let .failure(errors): return errors.errors
        }
    }

    /// Every problem in the file at `path`, in file order; empty when it would load.
    public static func validate(path: String) -> [SiteFileError] {
        do throws(SiteFileError) {
            return validate(try readText(path: path), file: path)
        } catch {
            return [error]
        }
    }

    /// The errors of one decode, first in file order at `[0]`; never empty.
    struct Errors: Error {
        var errors: [SiteFileError]
        subscript(index: Int) -> SiteFileError { errors[index] }
    }

    static func decode(_ text: String, file: String) -> Result<SiteConfiguration, Errors> {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return .failure(Errors(errors: [syntaxError(error, in: text, file: file)]))
        }
        guard let root else {
            return .failure(Errors(errors: [SiteFileError(file: file, line: 1, column: 1, message: "the site file is empty; it needs at least 'domain'")]))
        }
        var decoder = SiteDecoder(file: file)
        if let configuration = decoder.configuration(root) { return .success(configuration) }
        // Stable by position: two problems at one spot keep the order they were found in.
        let sorted = decoder.reader.errors.enumerated().sorted {
            ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
        }
        return .failure(Errors(errors: sorted.map(\.element)))
    }

    /// libyaml's complaint, at libyaml's mark.
    static func syntaxError(_ error: any Error, in text: String, file: String) -> SiteFileError {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> SiteFileError {
            // libyaml's own order: what it was doing and where, then what went wrong.
            var message = "YAML syntax error: "
            if let context { message += "\(context.text) (line \(context.mark.line), column \(context.mark.column)): " }
            message += problem
            if character(at: mark, in: text) == "\t" { message += " (tabs are not allowed for indentation; use spaces)" }
            return SiteFileError(file: file, line: mark.line, column: mark.column, message: message)
        }
        switch error as? YamlError {
        case let .scanner(context, problem, mark, _)?: return located(mark, problem, context)
        case let .parser(context, problem, mark, _)?: return located(mark, problem, context)
        case let .composer(context, problem, mark, _)?: return located(mark, problem, context)
        case let .reader(problem, offset, value, _)?:
            let (line, column) = offset.map { position(ofCharacter: $0, in: text) } ?? (0, 0)
            let hex = String(value, radix: 16, uppercase: true)
            let byte = value >= 0 ? " (character U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))" : ""
            return SiteFileError(file: file, line: line, column: column, message: "unreadable YAML: \(problem)\(byte)")
        default:
            return SiteFileError(file: file, line: 0, column: 0, message: "YAML error: \(error)")
        }
    }

    /// The character at a libyaml mark (columns count Unicode scalars), if there is one.
    static func character(at mark: Mark, in text: String) -> Unicode.Scalar? {
        var line = 1
        var column = 1
        for scalar in text.unicodeScalars {
            if line == mark.line, column == mark.column { return scalar }
            if scalar == "\n" {
                if line == mark.line { return nil }
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return nil
    }

    /// Line and column (from 1, columns in Unicode scalars like libyaml's) of the character at
    /// `offset`.
    static func position(ofCharacter offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }

    // MARK: Reading

    static func readText(path: String) throws(SiteFileError) -> String {
        let bytes = try readBytes(path: path)
        return try utf8Text(bytes, file: path)
    }

    /// The file's bytes, or an error carrying the system's reason.
    static func readBytes(path: String) throws(SiteFileError) -> [UInt8] {
        func failure(_ what: String) -> SiteFileError {
            SiteFileError(file: path, line: 0, column: 0, message: "cannot \(what) the site file: \(String(cString: strerror(errno)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read")
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            if bytes.count > maximumSize {
                throw SiteFileError(file: path, line: 0, column: 0, message: "the site file is larger than \(maximumSize >> 20) MiB")
            }
        }
    }

    /// The bytes as text, or an error at the first byte that is not UTF-8.
    static func utf8Text(_ bytes: [UInt8], file: String) throws(SiteFileError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // Find the bad byte: decode scalar by scalar, counting lines and columns as we go.
        var iterator = CountingIterator(bytes: bytes)
        var decoder = UTF8()
        var line = 1
        var column = 1
        while true {
            let offset = iterator.offset
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar):
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                // Unreachable: validation failed, so some byte is bad.
                return String(decoding: bytes, as: UTF8.self)
            case .error:
                let byte = String(bytes[offset], radix: 16, uppercase: true)
                throw SiteFileError(
                    file: file, line: line, column: column,
                    message: "the site file is not valid UTF-8 (byte 0x\(byte) at offset \(offset))"
                )
            }
        }
    }
}

/// A byte iterator that knows how far it has gone.
private struct CountingIterator: IteratorProtocol {
    let bytes: [UInt8]
    var offset = 0

    mutating func next() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }
}
