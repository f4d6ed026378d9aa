import Testing
@testable import Site

/// A site file that must be refused, and where and why.
struct RefusedSite: CustomTestStringConvertible, Sendable {
    var name: String
    var yaml: String
    var line: Int
    var column: Int
    /// A part of the message the operator must see.
    var says: String

    var testDescription: String { name }
}

/// "domain: maas.test" then `body`: line 2 of the file is line 1 of `body`.
private func site(_ body: String) -> String { "domain: maas.test\n" + body }

private let subnet24 = """
    subnets:
      - cidr: 198.18.0.0/24
        gateway: 198.18.0.1
        pools: [{start: 198.18.0.100, end: 198.18.0.250}]
        reserved: [{start: 198.18.0.1, end: 198.18.0.20}]

    """

private let refused: [RefusedSite] = [
    // Typo protection.
    RefusedSite(name: "unknown top-level key", yaml: site("subnet: []\n"), line: 2, column: 1,
                says: "unknown key 'subnet' in the top level (did you mean 'subnets'?); allowed keys: domain, upstream_dns,"),
    RefusedSite(name: "unknown subnet key", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    gatway: 198.18.0.1\n"),
                line: 4, column: 5, says: "unknown key 'gatway' in subnet (did you mean 'gateway'?); allowed keys: cidr, gateway,"),
    RefusedSite(name: "unknown machine key", yaml: site("machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", role: x}\n"),
                line: 3, column: 45, says: "unknown key 'role' in machine; allowed keys: hostname, mac, ip, arch, purpose, client_id"),
    RefusedSite(name: "unknown boot architecture", yaml: site("boot:\n  files: {efi: a.efi}\n"),
                line: 3, column: 11, says: "unknown key 'efi' in boot.files; allowed keys: bios, uefi-x64, uefi-arm64"),
    RefusedSite(name: "unknown dhcp key", yaml: site("dhcp:\n  proxi: true\n"),
                line: 3, column: 3, says: "unknown key 'proxi' in dhcp (did you mean 'proxy'?)"),
    RefusedSite(name: "unknown range key", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    pools: [{from: 198.18.0.1, end: 198.18.0.9}]\n"),
                line: 4, column: 14, says: "unknown key 'from' in pool; allowed keys: start, end"),
    RefusedSite(name: "duplicate key", yaml: site("files: /a\nfiles: /b\n"), line: 3, column: 1,
                says: "duplicate key 'files' in the top level (first at line 2)"),

    // Shapes and types.
    RefusedSite(name: "root is a list", yaml: "- domain: maas.test\n", line: 1, column: 1,
                says: "the top level must be a mapping (key: value), not a list"),
    RefusedSite(name: "missing domain", yaml: "files: /srv\n", line: 1, column: 1, says: "the top level needs 'domain'"),
    RefusedSite(name: "null domain", yaml: "domain:\n", line: 1, column: 1, says: "'domain' in the top level needs a value"),
    RefusedSite(name: "bad domain", yaml: "domain: maas_test\n", line: 1, column: 9, says: "domain 'maas_test' is not a valid DNS name"),
    RefusedSite(name: "subnets is a mapping", yaml: site("subnets: {cidr: 198.18.0.0/24}\n"), line: 2, column: 10,
                says: "subnets must be a list like [{cidr: 198.18.0.0/24}], not a mapping (key: value)"),
    RefusedSite(name: "upstream_dns is a single value", yaml: site("upstream_dns: 198.18.0.254\n"), line: 2, column: 15,
                says: "upstream_dns must be a list like [198.18.0.1], not a single value"),
    RefusedSite(name: "lease_seconds is text", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, lease_seconds: ten}\n"),
                line: 3, column: 42, says: "lease_seconds must be a whole number from 1 to 2147483648, not 'ten'"),
    RefusedSite(name: "lease_seconds is quoted", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, lease_seconds: \"60\"}\n"),
                line: 3, column: 42, says: "not '60' (remove the quotes)"),
    RefusedSite(name: "gateway is a list", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, gateway: [198.18.0.1]}\n"),
                line: 3, column: 36, says: "gateway must be a single value, not a list"),
    RefusedSite(name: "proxy is yes", yaml: site("dhcp: {proxy: yes}\n"), line: 2, column: 15, says: "proxy must be true or false, not 'yes'"),
    RefusedSite(name: "unknown_clients value", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, unknown_clients: deny}\n"),
                line: 3, column: 44, says: "unknown_clients must be one of serve | ignore, not 'deny'"),
    RefusedSite(name: "purpose value", yaml: site("machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", purpose: install}\n"),
                line: 3, column: 54, says: "purpose must be one of commission | deploy | local | rescue, not 'install'"),
    RefusedSite(name: "arch alias", yaml: site("machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", arch: x86_64}\n"),
                line: 3, column: 51, says: "arch must be one of amd64 | arm64 | i386 | armhf | ppc64el | s390x | riscv64, not 'x86_64' (did you mean 'amd64'?)"),
    RefusedSite(name: "files is relative", yaml: site("files: srv/rackplane\n"), line: 2, column: 8,
                says: "files must be an absolute path"),

    // Addresses.
    RefusedSite(name: "bad gateway address", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, gateway: 198.18.0.300}\n"),
                line: 3, column: 36, says: "gateway '198.18.0.300' is not an IPv4 address"),
    RefusedSite(name: "bad upstream address", yaml: site("upstream_dns: [198.18.0.1, dns.example]\n"), line: 2, column: 28,
                says: "address in upstream_dns 'dns.example' is not an IPv4 address"),
    RefusedSite(name: "bad MAC", yaml: site("machines:\n  - {hostname: a, mac: \"52:54:00:00:01\"}\n"), line: 3, column: 24,
                says: "mac '52:54:00:00:01' is not a MAC address"),
    RefusedSite(name: "multicast MAC", yaml: site("machines:\n  - {hostname: a, mac: \"01:00:5e:00:00:01\"}\n"), line: 3, column: 24,
                says: "mac 01:00:5e:00:00:01 is a group (multicast or broadcast) or all-zero address"),
    RefusedSite(name: "CIDR without prefix", yaml: site("subnets:\n  - cidr: 198.18.0.0\n"), line: 3, column: 11,
                says: "cidr '198.18.0.0' is not valid: write it as network/prefix, like 198.18.0.0/24"),
    RefusedSite(name: "CIDR prefix too long", yaml: site("subnets:\n  - cidr: 198.18.0.0/33\n"), line: 3, column: 11,
                says: "the prefix length must be a number from 0 to 32, not '33'"),
    RefusedSite(name: "CIDR host bits set", yaml: site("subnets:\n  - cidr: 198.18.0.5/24\n"), line: 3, column: 11,
                says: "cidr 198.18.0.5/24 has host bits set; the network is 198.18.0.0/24"),
    RefusedSite(name: "missing cidr", yaml: site("subnets:\n  - gateway: 198.18.0.1\n"), line: 3, column: 5, says: "subnet needs 'cidr'"),
    RefusedSite(name: "overlapping subnets", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n  - cidr: 198.18.0.0/23\n"),
                line: 4, column: 11, says: "subnet 198.18.0.0/23 overlaps subnet 198.18.0.0/24 (line 3)"),

    // Subnet contents.
    RefusedSite(name: "gateway outside subnet", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    gateway: 198.18.1.1\n"),
                line: 4, column: 14, says: "gateway 198.18.1.1 is outside subnet 198.18.0.0/24"),
    RefusedSite(name: "gateway is the broadcast address", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    gateway: 198.18.0.255\n"),
                line: 4, column: 14, says: "gateway 198.18.0.255 is the network or broadcast address of subnet 198.18.0.0/24"),
    RefusedSite(name: "pool outside subnet", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    pools: [{start: 198.18.0.200, end: 198.18.1.10}]\n"),
                line: 4, column: 13, says: "pool 198.18.0.200-198.18.1.10 is outside subnet 198.18.0.0/24"),
    RefusedSite(name: "pool start after end", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    pools: [{start: 198.18.0.250, end: 198.18.0.100}]\n"),
                line: 4, column: 13, says: "pool start 198.18.0.250 is after its end 198.18.0.100"),
    RefusedSite(name: "pool holds the broadcast address", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    pools: [{start: 198.18.0.200, end: 198.18.0.255}]\n"),
                line: 4, column: 13, says: "pool 198.18.0.200-198.18.0.255 includes the network or broadcast address"),
    RefusedSite(name: "overlapping pools", yaml: site("""
        subnets:
          - cidr: 198.18.0.0/24
            pools:
              - {start: 198.18.0.100, end: 198.18.0.150}
              - {start: 198.18.0.150, end: 198.18.0.200}

        """), line: 6, column: 9, says: "pool 198.18.0.150-198.18.0.200 overlaps pool 198.18.0.100-198.18.0.150 (line 5)"),
    RefusedSite(name: "reserved outside subnet", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    reserved: [{start: 198.18.1.1, end: 198.18.1.9}]\n"),
                line: 4, column: 16, says: "reserved range 198.18.1.1-198.18.1.9 is outside subnet 198.18.0.0/24"),
    RefusedSite(name: "reserved start after end", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    reserved: [{start: 198.18.0.9, end: 198.18.0.1}]\n"),
                line: 4, column: 16, says: "reserved range start 198.18.0.9 is after its end 198.18.0.1"),
    RefusedSite(name: "range missing end", yaml: site("subnets:\n  - cidr: 198.18.0.0/24\n    pools: [{start: 198.18.0.9}]\n"),
                line: 4, column: 13, says: "pool needs 'end'"),
    RefusedSite(name: "lease_seconds zero", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, lease_seconds: 0}\n"),
                line: 3, column: 42, says: "lease_seconds must be from 1 to 2147483648, not 0"),
    RefusedSite(name: "lease_seconds above 2^31", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, lease_seconds: 2147483649}\n"),
                line: 3, column: 42, says: "lease_seconds must be from 1 to 2147483648, not 2147483649"),
    RefusedSite(name: "lease_seconds beyond UInt32", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, lease_seconds: 99999999999}\n"),
                line: 3, column: 42, says: "lease_seconds must be from 1 to 2147483648, not 99999999999"),
    RefusedSite(name: "mtu too small", yaml: site("subnets:\n  - {cidr: 198.18.0.0/24, mtu: 67}\n"),
                line: 3, column: 32, says: "mtu must be from 68 to 65535, not 67"),
    RefusedSite(name: "circuit id pinned twice", yaml: site("""
        subnets:
          - cidr: 198.18.0.0/24
            circuit_ids:
              - {circuit_id: "eth0/1", ip: 198.18.0.30}
              - {circuit_id: "eth0/1", ip: 198.18.0.31}

        """), line: 6, column: 9, says: "circuit_id 'eth0/1' is pinned twice in this subnet (first at line 5)"),
    RefusedSite(name: "circuit pin outside subnet", yaml: site("""
        subnets:
          - cidr: 198.18.0.0/24
            circuit_ids: [{circuit_id: "eth0/1", ip: 198.18.1.30}]

        """), line: 4, column: 46, says: "circuit pin ip 198.18.1.30 is outside its subnet 198.18.0.0/24"),
    RefusedSite(name: "circuit pin in pool", yaml: site("""
        subnets:
          - cidr: 198.18.0.0/24
            pools: [{start: 198.18.0.100, end: 198.18.0.250}]
            circuit_ids: [{circuit_id: "eth0/1", ip: 198.18.0.130}]

        """), line: 5, column: 46, says: "circuit pin ip 198.18.0.130 is inside the dynamic pool 198.18.0.100-198.18.0.250 (line 4)"),

    // Machines.
    RefusedSite(name: "machine ip outside every subnet", yaml: site(subnet24 + "machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", ip: 198.18.9.9}\n"),
                line: 8, column: 49, says: "machine ip 198.18.9.9 is outside every subnet (subnets: 198.18.0.0/24)"),
    RefusedSite(name: "machine ip with no subnets", yaml: site("machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", ip: 198.18.9.9}\n"),
                line: 3, column: 49, says: "machine ip 198.18.9.9 is outside every subnet (the file has no subnets)"),
    RefusedSite(name: "machine ip in dynamic pool", yaml: site(subnet24 + "machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", ip: 198.18.0.150}\n"),
                line: 8, column: 49,
                says: "machine ip 198.18.0.150 is inside the dynamic pool 198.18.0.100-198.18.0.250 (line 5) and not in a reserved range, so it could be leased to another client; move it out of the pool or cover it with a 'reserved' range"),
    RefusedSite(name: "machine ip is the gateway", yaml: site(subnet24 + "machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", ip: 198.18.0.1}\n"),
                line: 8, column: 49, says: "machine ip 198.18.0.1 is the gateway of subnet 198.18.0.0/24"),
    RefusedSite(name: "machine ip is the network address", yaml: site(subnet24 + "machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", ip: 198.18.0.0}\n"),
                line: 8, column: 49, says: "machine ip 198.18.0.0 is the network address of subnet 198.18.0.0/24"),
    RefusedSite(name: "duplicate MAC", yaml: site(subnet24 + """
        machines:
          - {hostname: a, mac: "52:54:00:00:00:01"}
          - {hostname: b, mac: "52-54-00-00-00-01"}

        """), line: 9, column: 24, says: "mac 52:54:00:00:00:01 is already used by the machine at line 8"),
    RefusedSite(name: "duplicate IP", yaml: site(subnet24 + """
        machines:
          - {hostname: a, mac: "52:54:00:00:00:01", ip: 198.18.0.30}
          - {hostname: b, mac: "52:54:00:00:00:02", ip: 198.18.0.30}

        """), line: 9, column: 49, says: "ip 198.18.0.30 is already given to machine 'a' (line 8)"),
    RefusedSite(name: "machine repeats a pinned address", yaml: site("""
        subnets:
          - cidr: 198.18.0.0/24
            circuit_ids: [{circuit_id: "eth0/1", ip: 198.18.0.30}]
        machines:
          - {hostname: a, mac: "52:54:00:00:00:01", ip: 198.18.0.30}

        """), line: 6, column: 49, says: "ip 198.18.0.30 is already given to circuit pin 'eth0/1' (line 4)"),
    RefusedSite(name: "duplicate hostname ignoring case", yaml: site(subnet24 + """
        machines:
          - {hostname: node01, mac: "52:54:00:00:00:01"}
          - {hostname: Node01, mac: "52:54:00:00:00:02"}

        """), line: 9, column: 16, says: "hostname 'Node01' is already used by the machine at line 8 (host names ignore case)"),
    RefusedSite(name: "hostname with underscore", yaml: site("machines:\n  - {hostname: node_01, mac: \"52:54:00:00:00:01\"}\n"),
                line: 3, column: 16, says: "hostname 'node_01' is not a valid DNS label"),
    RefusedSite(name: "hostname with domain", yaml: site("machines:\n  - {hostname: node01.maas.test, mac: \"52:54:00:00:00:01\"}\n"),
                line: 3, column: 16, says: "write it without the domain, like 'node01'"),
    RefusedSite(name: "hostname too long", yaml: site("machines:\n  - {hostname: \(String(repeating: "a", count: 64)), mac: \"52:54:00:00:00:01\"}\n"),
                line: 3, column: 16, says: "is not a valid DNS label (1 to 63 letters"),
    RefusedSite(name: "hostname ends with a hyphen", yaml: site("machines:\n  - {hostname: node-, mac: \"52:54:00:00:00:01\"}\n"),
                line: 3, column: 16, says: "hostname 'node-' is not a valid DNS label"),
    RefusedSite(name: "machine without mac", yaml: site("machines:\n  - {hostname: a}\n"), line: 3, column: 5, says: "machine needs 'mac'"),
    RefusedSite(name: "client id too short", yaml: site("machines:\n  - {hostname: a, mac: \"52:54:00:00:00:01\", client_id: \"01\"}\n"),
                line: 3, column: 56, says: "client_id '01' must be 2 to 255 hex bytes separated by colons"),
    RefusedSite(name: "duplicate client id", yaml: site("""
        machines:
          - {hostname: a, mac: "52:54:00:00:00:01", client_id: "01:aa:bb"}
          - {hostname: b, mac: "52:54:00:00:00:02", client_id: "1:AA:BB"}

        """), line: 4, column: 56, says: "client_id 1:AA:BB is already used by the machine at line 3"),

    // Records.
    RefusedSite(name: "A record with a name for a value", yaml: site("records:\n  - {name: www, type: A, value: web}\n"),
                line: 3, column: 33, says: "an A record's value must be an IPv4 address, not 'web'"),
    RefusedSite(name: "AAAA record with an IPv4 value", yaml: site("records:\n  - {name: www, type: AAAA, value: 198.18.0.1}\n"),
                line: 3, column: 36, says: "an AAAA record's value must be an IPv6 address, not '198.18.0.1'"),
    RefusedSite(name: "unknown record type", yaml: site("records:\n  - {name: www, type: SPF, value: x}\n"),
                line: 3, column: 23, says: "record type must be one of A | AAAA | CNAME | MX | TXT | SRV | PTR | NS, not 'SPF'"),
    RefusedSite(name: "bad record name", yaml: site("records:\n  - {name: \"a b\", type: TXT, value: x}\n"),
                line: 3, column: 12, says: "record name 'a b' is not a valid DNS name"),
    RefusedSite(name: "ttl with the top bit set", yaml: site("records:\n  - {name: www, type: A, value: 198.18.0.9, ttl: 2147483648}\n"),
                line: 3, column: 50, says: "ttl must be from 0 to 2147483647, not 2147483648"),

    // The file as a whole.
    RefusedSite(name: "empty file", yaml: "", line: 1, column: 1, says: "the site file is empty"),
    RefusedSite(name: "comments only", yaml: "# nothing yet\n", line: 1, column: 1, says: "the site file is empty"),
    // DNS (the `dns` extension and record values, checked against the zones the file makes).
    RefusedSite(name: "unknown dns key", yaml: site("dns:\n  ratelimit: 10\n"), line: 3, column: 3,
                says: "unknown key 'ratelimit' in dns (did you mean 'rate_limit'?)"),
    RefusedSite(name: "bad recursion prefix", yaml: site("dns:\n  allow_recursion: [198.18.0.0/33]\n"), line: 3, column: 21,
                says: "allow_recursion entry '198.18.0.0/33' is not valid"),
    RefusedSite(name: "MX without preference", yaml: site("records:\n  - {name: '@', type: MX, value: mail}\n"), line: 3, column: 1,
                says: "an MX value is 'preference exchange'"),
    RefusedSite(name: "SRV port out of range", yaml: site("records:\n  - {name: _x._tcp, type: SRV, value: 0 0 70000 www}\n"),
                line: 3, column: 1, says: "SRV port '70000' is not a number from 0 to 65535"),
    RefusedSite(name: "record outside every zone", yaml: site("records:\n  - {name: www.example.org., type: A, value: 198.18.0.1}\n"),
                line: 3, column: 1, says: "record name www.example.org. is outside every zone this rack serves"),
    RefusedSite(name: "CNAME beside other data", yaml: site("records:\n  - {name: www, type: A, value: 198.18.0.1}\n  - {name: www, type: CNAME, value: web}\n"),
                line: 4, column: 1, says: "www.maas.test. already has data (line 3); a CNAME must be the only record at its name"),
    RefusedSite(name: "CNAME on a machine's name", yaml: site(subnet24 + "machines:\n  - {hostname: node01, mac: \"52:54:00:00:00:01\", ip: 198.18.0.21}\nrecords:\n  - {name: node01, type: CNAME, value: web}\n"),
                line: 10, column: 1, says: "node01.maas.test. already has data (line 8)"),
    RefusedSite(name: "unterminated TXT quote", yaml: site("records:\n  - {name: t, type: TXT, value: '\"abc'}\n"), line: 3, column: 1,
                says: "unterminated quote in TXT value"),
]

@Suite struct SiteValidationTests {
    @Test(arguments: refused)
    func isRefusedAtTheRightPlace(_ site: RefusedSite) {
        do throws(SiteFileError) {
            let configuration = try SiteFile.parse(site.yaml, file: "site.yaml")
            Issue.record("accepted: \(configuration)")
        } catch {
            #expect(error.file == "site.yaml")
            #expect(error.line == site.line, "\(error)")
            #expect(error.column == site.column, "\(error)")
            #expect(error.message.contains(site.says), "\(error)")
        }
    }

    @Test func dnsSettingsAreRead() throws {
        let text = site(subnet24 + """
            dns:
              default_ttl: 120
              negative_ttl: 30
              nameserver: rack1
              nameserver_address: 198.18.0.1
              allow_recursion: [198.18.0.0/15, 127.0.0.1/32]
              allow_transfer: [198.18.0.7/32]
              rate_limit: 0
            """)
        let dns = try SiteFile.parse(text, file: "site.yaml").dns
        #expect(dns.defaultTTL == 120)
        #expect(dns.negativeTTL == 30)
        #expect(dns.nameserver == "rack1")
        #expect(dns.nameserverAddress?.description == "198.18.0.1")
        #expect(dns.allowRecursion?.map { "\($0.network)/\($0.prefixLength)" } == ["198.18.0.0/15", "127.0.0.1/32"])
        #expect(dns.allowTransfer.count == 1)
        #expect(dns.rateLimit == 0)
    }

    @Test func descriptionIsFileLineColumnMessage() {
        let error = SiteFileError(file: "site.yaml", line: 12, column: 5, message: "gateway 198.18.1.1 is outside subnet 198.18.0.0/24")
        #expect("\(error)" == "site.yaml:12:5: gateway 198.18.1.1 is outside subnet 198.18.0.0/24")
    }

    @Test func everyProblemIsReportedInFileOrder() {
        let yaml = """
            domain: maas.test
            subnets:
              - cidr: 198.18.0.0/24
                gateway: 198.18.1.1
                lease_seconds: 0
            machines:
              - {hostname: a, mac: "52:54:00:00:00:01"}
              - {hostname: A, mac: "52:54:00:00:00:01"}
            dhcp: {proxy: maybe}
            frobnicate: 1
            """
        let errors = SiteFile.validate(yaml, file: "site.yaml")
        #expect(errors.map { "\($0.line):\($0.column)" } == ["4:14", "5:20", "8:16", "8:24", "9:15", "10:1"])
        // parse throws the first of them.
        if let first = errors.first {
            #expect(throws: first) { try SiteFile.parse(yaml, file: "site.yaml") }
        }
    }

    @Test func aBrokenSubnetDoesNotAlsoMakeItsMachinesOutsideEverySubnet() {
        let yaml = """
            domain: maas.test
            subnets:
              - cidr: 198.18.0.0/33
            machines:
              - {hostname: a, mac: "52:54:00:00:00:01", ip: 198.18.0.30}
            """
        let errors = SiteFile.validate(yaml, file: "site.yaml")
        #expect(errors.count == 1)
        #expect(errors.first?.line == 3)
    }
}
