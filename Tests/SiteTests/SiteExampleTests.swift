import Foundation
import Testing
import Tables
import Wire
@testable import Site

/// The example of issue 4, byte for byte: the format's reference.
let issueExample = """
    domain: maas.test
    upstream_dns: [198.18.0.254]          # forwarders (DNS issue)
    files: /srv/rackplane                  # root for TFTP and HTTP
    subnets:
      - cidr: 198.18.0.0/24
        gateway: 198.18.0.1
        dns_servers: [198.18.0.1]
        next_server: 198.18.0.1
        lease_seconds: 600
        pools: [{start: 198.18.0.100, end: 198.18.0.250}]
        reserved: [{start: 198.18.0.1, end: 198.18.0.20}]
        unknown_clients: serve             # serve | ignore
    boot:
      files: {bios: lpxelinux.0, uefi-x64: bootx64.efi, uefi-arm64: bootaa64.efi}
      http_boot_url: http://198.18.0.1:5248/bootx64.efi
      ipxe_script: http://198.18.0.1:5248/ipxe.cfg
      kernel: images/vmlinuz
      initrd: images/initrd.gz
      cmdline: console=ttyS0
    machines:
      - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.21, arch: amd64, purpose: commission}
    records:
      - {name: www, type: A, value: 198.18.0.10}

    """

func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }

/// Parses or records the error as a test failure.
func parsed(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> SiteConfiguration? {
    do throws(SiteFileError) {
        return try SiteFile.parse(yaml, file: "site.yaml")
    } catch {
        Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite struct SiteExampleTests {
    @Test func issueExampleParsesToTheExactModel() throws {
        let configuration = try #require(parsed(issueExample))
        let expected = SiteConfiguration(
            domain: "maas.test",
            upstreamDNS: [ip("198.18.0.254")],
            files: "/srv/rackplane",
            subnets: [
                SiteSubnet(
                    network: ip("198.18.0.0"), prefixLength: 24,
                    gateway: ip("198.18.0.1"),
                    dnsServers: [ip("198.18.0.1")],
                    nextServer: ip("198.18.0.1"),
                    leaseSeconds: 600,
                    pools: [SiteRange(start: ip("198.18.0.100"), end: ip("198.18.0.250"), line: 10)],
                    reserved: [SiteRange(start: ip("198.18.0.1"), end: ip("198.18.0.20"), line: 11)],
                    unknownClients: .serve,
                    line: 5
                ),
            ],
            boot: SiteBoot(
                files: [.bios: "lpxelinux.0", .uefiX64: "bootx64.efi", .uefiARM64: "bootaa64.efi"],
                httpBootURL: "http://198.18.0.1:5248/bootx64.efi",
                ipxeScript: "http://198.18.0.1:5248/ipxe.cfg",
                kernel: "images/vmlinuz",
                initrd: "images/initrd.gz",
                cmdline: "console=ttyS0",
                line: 14
            ),
            machines: [
                SiteMachine(
                    hostname: "node01", mac: MACAddress(0x5254_0000_0001), ip: ip("198.18.0.21"),
                    arch: "amd64", purpose: .commission, clientID: nil, line: 21
                ),
            ],
            records: [SiteRecord(name: "www", type: "A", value: "198.18.0.10", ttl: nil, line: 23)],
            dhcp: SiteDHCPSettings(declineQuarantineSeconds: 600, perMACRateLimit: 10, proxy: false, authoritative: true, line: 0)
        )
        #expect(configuration == expected)
        #expect(SiteFile.validate(issueExample, file: "site.yaml").isEmpty)
    }

    /// The zone assembly writes host and reverse names in wire form directly; they must equal
    /// what the text parser makes of the same names, and names that are not one plain label
    /// still go through the parser.
    @Test func hostAndReverseNamesMatchTheTextParser() throws {
        let subnet = SiteSubnet(network: ip("198.18.0.0"), prefixLength: 16, domain: "Lab.Example")
        let site = SiteConfiguration(domain: "maas.test", subnets: [subnet])
        let assembly = SiteZones.Assembly(site: site, serial: 1)
        for text in ["0.0.18.198", "5.0.18.198", "10.9.18.198", "99.100.18.198", "255.254.18.198"] {
            let parts = text.split(separator: ".").compactMap { UInt8($0) }
            let address = IPv4Address(parts[3], parts[2], parts[1], parts[0])
            #expect(SiteZones.reverseWire(address) == ZoneNames.wire(text + ".in-addr.arpa"), "\(text)")
        }
        for hostname in ["node1", "Node-01", "a_b", "x", String(repeating: "h", count: 63), String(repeating: "h", count: 64),
                         "two.labels", "sp ace", "", "ü"] {
            for address in [ip("198.18.3.4"), ip("10.0.0.1")] {
                let domain = subnet.contains(address) ? "Lab.Example" : "maas.test"
                let expected = ZoneNames.wire(hostname + "." + domain).map(ZoneNames.lowercased)
                #expect(assembly.hostName(hostname, at: address) == expected, "\(hostname) at \(address)")
            }
        }
    }

    @Test func subnetHelpers() throws {
        let subnet = try #require(parsed(issueExample)?.subnets.first)
        #expect(subnet.cidr == "198.18.0.0/24")
        #expect(subnet.netmask == ip("255.255.255.0"))
        #expect(subnet.broadcast == ip("198.18.0.255"))
        #expect(subnet.contains(ip("198.18.0.77")))
        #expect(!subnet.contains(ip("198.18.1.0")))
        #expect(subnet.pools[0].count == 151)
    }

    @Test func onlyDomainIsRequiredAndEverythingElseDefaults() throws {
        let configuration = try #require(parsed("domain: maas.test\n"))
        #expect(configuration == SiteConfiguration(domain: "maas.test"))
        #expect(configuration.files == "/srv/rackplane")
        #expect(configuration.upstreamDNS.isEmpty && configuration.subnets.isEmpty)
        #expect(configuration.machines.isEmpty && configuration.records.isEmpty)
        #expect(configuration.boot == SiteBoot())
        #expect(configuration.dhcp == SiteDHCPSettings())
    }

    @Test func subnetAndMachineDefaults() throws {
        let yaml = """
            domain: maas.test
            subnets:
              - cidr: 198.18.0.0/24
            machines:
              - hostname: node01
                mac: 52:54:00:00:00:01
            """
        let configuration = try #require(parsed(yaml))
        let subnet = try #require(configuration.subnets.first)
        #expect(subnet == SiteSubnet(network: ip("198.18.0.0"), prefixLength: 24, line: 3))
        #expect(subnet.leaseSeconds == 600)
        #expect(subnet.unknownClients == .serve)
        #expect(subnet.gateway == nil && subnet.nextServer == nil && subnet.domain == nil && subnet.mtu == nil)
        #expect(subnet.pxeLeaseSeconds == nil && subnet.pools.isEmpty && subnet.circuitPins.isEmpty)
        let machine = try #require(configuration.machines.first)
        // An unquoted MAC is read as written, not as a YAML 1.1 base-60 number.
        #expect(machine == SiteMachine(hostname: "node01", mac: MACAddress(0x5254_0000_0001), line: 5))
        #expect(machine.arch == "amd64")
        #expect(machine.purpose == .local)
        #expect(machine.ip == nil && machine.clientID == nil)
    }

    @Test func nullValuesMeanDefaults() throws {
        let yaml = """
            domain: maas.test
            upstream_dns:
            subnets:
              - cidr: 198.18.0.0/24
                gateway: ~
                lease_seconds: null
            dhcp:
            """
        let configuration = try #require(parsed(yaml))
        #expect(configuration.upstreamDNS.isEmpty)
        #expect(configuration.subnets[0].gateway == nil)
        #expect(configuration.subnets[0].leaseSeconds == 600)
        #expect(configuration.dhcp == SiteDHCPSettings())
    }

    @Test func emptySubnetListIsADNSOnlyRack() throws {
        let yaml = """
            domain: maas.test
            upstream_dns: [198.18.0.254, 198.18.0.253]
            subnets: []
            records:
              - {name: "@", type: NS, value: ns1}
              - {name: _http._tcp, type: srv, value: "0 0 80 www", ttl: 60}
              - {name: www, type: AAAA, value: "2001:db8::10"}
            """
        let configuration = try #require(parsed(yaml))
        #expect(configuration.subnets.isEmpty)
        #expect(configuration.upstreamDNS == [ip("198.18.0.254"), ip("198.18.0.253")])
        #expect(configuration.records == [
            SiteRecord(name: "@", type: "NS", value: "ns1", line: 5),
            SiteRecord(name: "_http._tcp", type: "SRV", value: "0 0 80 www", ttl: 60, line: 6),
            SiteRecord(name: "www", type: "AAAA", value: "2001:db8::10", line: 7),
        ])
    }

    @Test func extensionsParse() throws {
        let yaml = """
            domain: maas.test
            subnets:
              - cidr: 198.18.0.0/24
                gateway: 198.18.0.1
                domain: lab.maas.test
                mtu: 9000
                lease_seconds: 3600
                pxe_lease_seconds: 30
                unknown_clients: ignore
                pools: [{start: 198.18.0.100, end: 198.18.0.199}]
                circuit_ids:
                  - {circuit_id: "eth0/1", ip: 198.18.0.30}
                  - {circuit_id: "eth0/2", ip: 198.18.0.31}
            machines:
              - {hostname: node02, mac: 52-54-00-AB-CD-EF, ip: 198.18.0.40, arch: arm64, purpose: deploy,
                 client_id: "01:52:54:00:ab:cd:ef"}
            dhcp:
              decline_quarantine_seconds: 3600
              per_mac_rate_limit: 0
              proxy: true
              authoritative: false
            """
        let configuration = try #require(parsed(yaml))
        let subnet = try #require(configuration.subnets.first)
        #expect(subnet.domain == "lab.maas.test")
        #expect(subnet.mtu == 9000)
        #expect(subnet.leaseSeconds == 3600)
        #expect(subnet.pxeLeaseSeconds == 30)
        #expect(subnet.unknownClients == .ignore)
        #expect(subnet.circuitPins == [
            SiteCircuitPin(circuitID: "eth0/1", ip: ip("198.18.0.30"), line: 12),
            SiteCircuitPin(circuitID: "eth0/2", ip: ip("198.18.0.31"), line: 13),
        ])
        #expect(configuration.machines == [
            SiteMachine(
                hostname: "node02", mac: MACAddress(0x5254_00AB_CDEF), ip: ip("198.18.0.40"), arch: "arm64",
                purpose: .deploy, clientID: [0x01, 0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF], line: 15
            ),
        ])
        #expect(configuration.dhcp == SiteDHCPSettings(
            declineQuarantineSeconds: 3600, perMACRateLimit: 0, proxy: true, authoritative: false, line: 18
        ))
    }

    @Test func machineAddressInsideAReservedPartOfAPoolIsAccepted() throws {
        // Reserved carves addresses out of the pool, so a reservation there is safe.
        let yaml = """
            domain: maas.test
            subnets:
              - cidr: 198.18.0.0/24
                pools: [{start: 198.18.0.10, end: 198.18.0.250}]
                reserved: [{start: 198.18.0.10, end: 198.18.0.50}, {start: 198.18.0.40, end: 198.18.0.60}]
                next_server: 198.18.7.1
            machines:
              - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.45}
            """
        let configuration = try #require(parsed(yaml))
        #expect(configuration.machines[0].ip == ip("198.18.0.45"))
        #expect(configuration.subnets[0].nextServer == ip("198.18.7.1"))
    }

    @Test func leaseSecondsUpperBoundIsTwoToThe31() throws {
        let yaml = "domain: maas.test\nsubnets:\n  - {cidr: 198.18.0.0/24, lease_seconds: 2147483648}\n"
        #expect(parsed(yaml)?.subnets.first?.leaseSeconds == 1 << 31)
    }

    @Test func pointToPointSubnetsHaveNoNetworkOrBroadcastAddress() throws {
        let yaml = """
            domain: maas.test
            subnets:
              - {cidr: 198.18.5.0/31, pools: [{start: 198.18.5.0, end: 198.18.5.1}]}
              - {cidr: 198.18.6.1/32}
            machines:
              - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.6.1}
            """
        let configuration = try #require(parsed(yaml))
        #expect(configuration.subnets.map(\.cidr) == ["198.18.5.0/31", "198.18.6.1/32"])
    }
}

@Suite struct SiteDocumentationTests {
    /// The YAML blocks of docs/site-file.md, which operators copy from.
    static func documentedExamples() throws -> [String] {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/site-file.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```yaml" {
                current = []
            } else if let block = current, line == "```" {
                blocks.append(block.joined(separator: "\n") + "\n")
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test func documentedExamplesParse() throws {
        let examples = try Self.documentedExamples()
        #expect(examples.count == 3)
        #expect(examples.first == issueExample)
        for example in examples {
            #expect(SiteFile.validate(example, file: "docs/site-file.md") == [])
        }
    }
}
