import Testing
import Wire
@testable import Site

/// The named leases a standalone rack hands its compiler process survive the trip whatever
/// bytes a client put in its hostname; a line that is not one is refused by number.
struct SiteLeaseNamesFileTests {
    @Test func namesRoundTripWithAnyBytes() throws {
        let names = [
            SiteLeaseName(hostname: "node-1", address: IPv4Address(198, 18, 0, 150)),
            SiteLeaseName(hostname: "two words\nand a line", address: IPv4Address(198, 18, 0, 151)),
            SiteLeaseName(hostname: "", address: IPv4Address(198, 18, 0, 152)),
            SiteLeaseName(hostname: "é-ü", address: IPv4Address(10, 0, 0, 1)),
        ]
        let bytes = SiteLeaseNamesFile.encode(names)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("198.18.0.150 6e6f64652d31\n"))
        #expect(try SiteLeaseNamesFile.decode(bytes).get() == names)
        #expect(try SiteLeaseNamesFile.decode([]).get().isEmpty)
    }

    @Test func aLineThatIsNotALeaseIsRefusedByNumber() {
        for (text, line) in [("198.18.0.1 6e\n198.18.0.2 laptop\n", 2), ("198.18.0.300 6e\n", 1),
                             ("198.18.0.1 6\n", 1), ("198.18.0.1\n", 1), ("198.18.0.1 6e 6e\n", 1),
                             ("198.18.0.1 6g\n", 1)] {
            guard case .failure(let error) = SiteLeaseNamesFile.decode(Array(text.utf8)) else {
                Issue.record("accepted \(text)")
                continue
            }
            #expect(error.line == line, "\(text)")
            #expect(error.description.contains("line \(line) is not"))
        }
    }
}
