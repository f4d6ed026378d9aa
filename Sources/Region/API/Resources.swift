import Power

/// The model's objects as the API sees them. Optional fields take the default shown when left
/// out; updates (PUT) replace every writable field, so a field left out returns to its default.
enum Resources {
    static let fabrics = Resource(
        objectType: "fabric", path: "fabrics", table: "fabrics",
        outputColumns: "t.id, t.name, t.description",
        writable: ["name", "description"])

    struct FabricInput: ResourceInput {
        var name: String
        var description: String?
        var values: [String?] { [name, description ?? ""] }
        var summary: String { "fabric \(name)" }
    }

    static let vlans = Resource(
        objectType: "vlan", path: "vlans", table: "vlans",
        outputColumns: "t.id, t.fabric_id, t.vid, t.name, t.mtu, t.dhcp_on, t.primary_rack_id, t.secondary_rack_id, t.relay_vlan_id",
        writable: ["fabric_id", "vid", "name", "mtu", "dhcp_on", "primary_rack_id", "secondary_rack_id", "relay_vlan_id"])

    struct VLANInput: ResourceInput {
        var fabricId: Int64
        var vid: Int
        var name: String?
        /// Default 1500.
        var mtu: Int?
        var dhcpOn: Bool?
        var primaryRackId: Int64?
        var secondaryRackId: Int64?
        var relayVlanId: Int64?
        var values: [String?] {
            [String(fabricId), String(vid), name ?? "", String(mtu ?? 1500), SQLText.bool(dhcpOn ?? false),
             primaryRackId.text, secondaryRackId.text, relayVlanId.text]
        }
        var summary: String { "vlan \(vid) on fabric \(fabricId)" }
    }

    static let subnets = Resource(
        objectType: "subnet", path: "subnets", table: "subnets",
        outputColumns: "t.id, t.vlan_id, t.name, t.cidr, t.gateway, t.dns_servers, t.domain_id, t.next_server, t.lease_seconds",
        writable: ["vlan_id", "name", "cidr", "gateway", "dns_servers", "domain_id", "next_server", "lease_seconds"])

    struct SubnetInput: ResourceInput {
        var vlanId: Int64
        var cidr: String
        var name: String?
        var gateway: String?
        var dnsServers: [String]?
        var domainId: Int64?
        var nextServer: String?
        /// Default 600.
        var leaseSeconds: Int?
        var values: [String?] {
            [String(vlanId), name ?? "", cidr, gateway, SQLText.array(dnsServers ?? []), domainId.text, nextServer,
             String(leaseSeconds ?? 600)]
        }
        var summary: String { "subnet \(cidr)" }
    }

    static let ranges = Resource(
        objectType: "ip_range", path: "ranges", table: "ip_ranges",
        outputColumns: "t.id, t.subnet_id, t.type, t.start_ip, t.end_ip, t.comment",
        writable: ["subnet_id", "type", "start_ip", "end_ip", "comment"])

    struct RangeInput: ResourceInput {
        var subnetId: Int64
        /// dynamic | reserved
        var type: String
        var startIp: String
        var endIp: String
        var comment: String?
        var values: [String?] { [String(subnetId), type, startIp, endIp, comment ?? ""] }
        var summary: String { "\(type) range \(startIp)-\(endIp)" }
    }

    static let domains = Resource(
        objectType: "domain", path: "domains", table: "domains",
        outputColumns: "t.id, t.name, t.authoritative, t.ttl, t.is_default",
        writable: ["name", "authoritative", "ttl"])

    struct DomainInput: ResourceInput {
        var name: String
        var authoritative: Bool?
        var ttl: Int?
        var values: [String?] { [name, SQLText.bool(authoritative ?? true), ttl.map(String.init)] }
        var summary: String { "domain \(name)" }
    }

    static let records = Resource(
        objectType: "dns_record", path: "records", table: "dns_records",
        outputColumns: "t.id, t.domain_id, t.name, t.type, t.value, t.ttl",
        writable: ["domain_id", "name", "type", "value", "ttl"])

    struct RecordInput: ResourceInput {
        var domainId: Int64
        var name: String
        var type: String
        var value: String
        var ttl: Int?
        var values: [String?] { [String(domainId), name, type, value, ttl.map(String.init)] }
        var summary: String { "\(type) record \(name)" }
    }

    static let bootResources = Resource(
        objectType: "boot_resource", path: "boot-resources", table: "boot_resources",
        outputColumns: """
            t.id, t.name, t.architecture, t.kernel_file, t.kernel_size, t.kernel_sha256,
            t.initrd_file, t.initrd_size, t.initrd_sha256, t.rootfs_file, t.rootfs_size, t.rootfs_sha256
            """,
        writable: ["name", "architecture", "kernel_file", "kernel_size", "kernel_sha256",
                   "initrd_file", "initrd_size", "initrd_sha256", "rootfs_file", "rootfs_size", "rootfs_sha256"])

    struct BootResourceInput: ResourceInput {
        var name: String
        var architecture: String
        var kernelFile: String
        var kernelSize: Int64
        var kernelSha256: String
        var initrdFile: String
        var initrdSize: Int64
        var initrdSha256: String
        var rootfsFile: String?
        var rootfsSize: Int64?
        var rootfsSha256: String?
        var values: [String?] {
            [name, architecture, kernelFile, String(kernelSize), kernelSha256, initrdFile, String(initrdSize), initrdSha256,
             rootfsFile, rootfsSize.text, rootfsSha256]
        }
        var summary: String { "boot resource \(name) \(architecture)" }
    }

    static let racks = Resource(
        objectType: "rack_controller", path: "racks", table: "rack_controllers",
        outputColumns: "t.id, t.name, t.description, t.tables_generation, t.tables_sha256, t.serving_generation, t.serving_reported_at, t.leases_acked, t.events_acked, t.image_files_wanted, t.image_files_ready, t.image_bytes_ready, t.images_reported_at, t.last_contact_at, t.created_at",
        writable: ["name", "description"])

    struct RackInput: ResourceInput {
        var name: String
        var description: String?
        var values: [String?] { [name, description ?? ""] }
        var summary: String { "rack \(name)" }
    }

    static let interfaceColumns = "t.id, t.machine_id, t.name, t.mac, t.subnet_id, t.mode, t.ip"

    static let interfaces = Resource(
        objectType: "interface", path: "interfaces", table: "interfaces",
        outputColumns: interfaceColumns,
        writable: ["name", "mac", "subnet_id", "mode", "ip"])

    struct InterfaceInput: ResourceInput {
        var name: String?
        var mac: String
        var subnetId: Int64?
        /// static | dhcp | link-up; default static when an ip is given, else dhcp.
        var mode: String?
        var ip: String?
        var values: [String?] { [name ?? "eth0", mac, subnetId.text, mode ?? (ip == nil ? "dhcp" : "static"), ip] }
        var summary: String { "interface \(mac)" }
    }

    static let machines = Resource(
        objectType: "machine", path: "machines", table: "machines",
        outputColumns: """
            t.id, t.system_id, t.hostname, t.domain_id,
            (SELECT d.name FROM domains d WHERE d.id = t.domain_id) AS domain,
            t.architecture, t.status, t.status_message, t.status_changed_at, t.boot_purpose, t.power_type, t.power_parameters,
            (SELECT p.state FROM machine_power p WHERE p.machine_id = t.id) AS power_state,
            (SELECT coalesce(json_agg(i ORDER BY i.id), '[]') FROM
                (SELECT n.id, n.name, n.mac, n.subnet_id, n.mode, n.ip FROM interfaces n WHERE n.machine_id = t.id) i) AS interfaces,
            t.facts, t.created_at, t.updated_at
            """,
        writable: ["hostname", "domain_id", "architecture", "power_type", "power_parameters", "power_parameters_sealed"],
        expressions: ["domain_id": "coalesce($::bigint, (SELECT id FROM domains WHERE is_default))",
                      "power_parameters_sealed": "decode($, 'hex')"])

    struct MachineInput: ResourceInput {
        var hostname: String
        /// Default: the default domain.
        var domainId: Int64?
        var architecture: String?
        var powerType: String?
        var powerParameters: JSONObject?
        /// Created with the machine, in the same transaction (create only).
        var interfaces: [InterfaceInput]?
        /// Without sealing (never written so): the parameters redacted, nothing sealed. What is
        /// written is `values(sealing:updating:on:)` (Power/MachinePowerParameters.swift).
        var values: [String?] {
            let parameters = Array((powerParameters ?? JSONObject()).text.utf8)
            return [hostname, domainId.text, architecture ?? "amd64", powerType ?? "manual",
                    String(decoding: PowerRedaction.redact(parameters), as: UTF8.self), nil]
        }

        var summary: String { "machine \(hostname)" }
    }
}
