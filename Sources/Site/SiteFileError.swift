/// Why a site file was refused, and where: `site.yaml:12:5: gateway 198.18.1.1 is outside subnet 198.18.0.0/24`.
///
/// Lines and columns count from 1 (columns in Unicode scalars, as libyaml does). A problem with
/// the file as a whole (it cannot be read, it is empty) is reported at line 0 or 1, column 0 or 1.
public struct SiteFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// The compiler-style `file:line:column: message` editors and CI logs link to.
    public var description: String { "\(file):\(line):\(column): \(message)" }
}
