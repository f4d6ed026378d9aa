import Foundation
import Testing
@testable import Site

/// A file under a fresh temporary directory, removed with it.
private func withTemporaryFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("site-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("site.yaml").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return try body(path)
}

private func refusal(of yaml: String) -> SiteFileError? {
    do throws(SiteFileError) {
        _ = try SiteFile.parse(yaml, file: "site.yaml")
        return nil
    } catch {
        return error
    }
}

@Suite struct SiteFileReadingTests {
    @Test func yamlSyntaxErrorCarriesLibyamlsLine() throws {
        let yaml = """
            domain: maas.test
            subnets:
              - cidr: 198.18.0.0/24
                pools: [{start: 198.18.0.100, end: 198.18.0.250}
                gateway: 198.18.0.1
            """
        let error = try #require(refusal(of: yaml))
        #expect(error.line == 5, "\(error)")
        #expect(error.message == "YAML syntax error: while parsing a flow sequence (line 4, column 12): did not find expected ',' or ']'")
    }

    @Test func badIndentationIsASyntaxError() throws {
        let yaml = "domain: maas.test\nsubnets:\n  - cidr: 198.18.0.0/24\n   gateway: 198.18.0.1\n"
        let error = try #require(refusal(of: yaml))
        #expect(error.line == 4, "\(error)")
        #expect(error.message.hasPrefix("YAML syntax error: "), "\(error)")
    }

    @Test func tabIndentationIsASyntaxError() throws {
        let error = try #require(refusal(of: "domain: maas.test\nboot:\n\tkernel: a\n"))
        #expect(error.line == 3, "\(error)")
        #expect(error.message.hasSuffix("(tabs are not allowed for indentation; use spaces)"), "\(error)")
    }

    @Test func controlCharacterIsReportedWhereItIs() throws {
        let error = try #require(refusal(of: "domain: maas.test\nfiles: /srv/a\u{01}b\n"))
        #expect(error.line == 2, "\(error)")
        #expect(error.column == 14, "\(error)")
        #expect(error.message == "unreadable YAML: control characters are not allowed (character U+0001)")
    }

    @Test func twoDocumentsAreRefused() throws {
        let error = try #require(refusal(of: "domain: a.test\n---\ndomain: b.test\n"))
        #expect(error.line == 2, "\(error)")
    }

    @Test func loadReadsAndNamesThePath() throws {
        try withTemporaryFile(Array(issueExample.utf8)) { path in
            let configuration = try SiteFile.load(path: path)
            #expect(configuration == parsed(issueExample))
            #expect(SiteFile.validate(path: path).isEmpty)
        }
        _ = try withTemporaryFile(Array("domain: maas.test\nsubnets:\n  - cidr: 198.18.0.1/24\n".utf8)) { path in
            #expect(throws: SiteFileError(
                file: path, line: 3, column: 11, message: "cidr 198.18.0.1/24 has host bits set; the network is 198.18.0.0/24"
            )) { try SiteFile.load(path: path) }
        }
    }

    @Test func nonUTF8IsReportedAtTheBadByte() throws {
        var bytes = Array("domain: maas.test\nboot:\n  cmdline: console=tty".utf8)
        bytes += [0xFF, 0x0A]
        try withTemporaryFile(bytes) { path in
            let errors = SiteFile.validate(path: path)
            #expect(errors == [SiteFileError(
                file: path, line: 3, column: 23, message: "the site file is not valid UTF-8 (byte 0xFF at offset 46)"
            )])
        }
    }

    @Test func truncatedMultiByteSequenceIsNotUTF8() throws {
        // "é" is C3 A9; the file ends after C3.
        #expect(throws: SiteFileError.self) { try SiteFile.utf8Text([0x61, 0xC3], file: "site.yaml") }
        #expect(try SiteFile.utf8Text(Array("é\n".utf8), file: "site.yaml") == "é\n")
    }

    @Test func missingFileSaysWhy() {
        let errors = SiteFile.validate(path: "/nonexistent/site.yaml")
        #expect(errors == [SiteFileError(
            file: "/nonexistent/site.yaml", line: 0, column: 0, message: "cannot open the site file: No such file or directory"
        )])
    }
}

@Suite struct SiteSyntaxTests {
    @Test func closestKeySuggestion() {
        #expect(SiteSyntax.closest(to: "gatway", in: SiteDecoder.subnetKeys) == "gateway")
        #expect(SiteSyntax.closest(to: "Domain", in: SiteDecoder.topLevelKeys) == "domain")
        #expect(SiteSyntax.closest(to: "frobnicate", in: SiteDecoder.topLevelKeys) == nil)
        #expect(SiteSyntax.editDistance("", "abc") == 3)
        #expect(SiteSyntax.editDistance("kitten", "sitting") == 3)
    }

    @Test func hexBytes() {
        #expect(SiteSyntax.hexBytes("01:52:54:00:ab:CD:ef") == [0x01, 0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF])
        #expect(SiteSyntax.hexBytes("1-a") == [0x01, 0x0A])
        #expect(SiteSyntax.hexBytes("01::02") == nil)
        #expect(SiteSyntax.hexBytes("123") == nil)
        #expect(SiteSyntax.hexBytes("zz") == nil)
    }

    @Test func names() {
        #expect(SiteSyntax.isHostLabel("node01"))
        #expect(SiteSyntax.isHostLabel("1u"))
        #expect(!SiteSyntax.isHostLabel(""))
        #expect(!SiteSyntax.isHostLabel("-a"))
        #expect(SiteSyntax.isDomainName("maas.test."))
        #expect(!SiteSyntax.isDomainName("maas..test"))
        #expect(SiteSyntax.isRecordName("*.apps"))
        #expect(!SiteSyntax.isRecordName("apps.*"))
    }
}
