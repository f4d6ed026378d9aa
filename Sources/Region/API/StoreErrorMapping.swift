import Hummingbird

/// Turns a refusal by the database into the API's answer. Integrity is the database's job; this
/// only chooses the status and says which rule was broken, by its constraint name.
enum StoreErrorMapping {
    enum Operation {
        case write
        case delete
    }

    /// What each constraint means, for the message (the name itself is always included).
    static let explanations: [String: String] = [
        "interfaces_mac_key": "another interface already has this MAC (one machine per MAC)",
        "interfaces_ip_key": "another interface already has this static address",
        "interfaces_ip_inside_subnet": "the static address is outside the interface's subnet",
        "interfaces_ip_not_network_or_broadcast": "the static address is the subnet's network or broadcast address",
        "interfaces_static_needs_ip": "mode static needs an ip, and only mode static may have one",
        "interfaces_ip_needs_subnet": "a static address needs a subnet_id",
        "interfaces_machine_name_key": "the machine already has an interface of this name",
        "interfaces_subnet_fkey": "no subnet with this subnet_id",
        "ip_ranges_no_overlap": "the range overlaps another range of the same subnet",
        "ip_ranges_dynamic_excludes_static": "a dynamic range may not hold a static address",
        "interfaces_ip_outside_dynamic_ranges": "a static address may not be inside a dynamic range",
        "ip_ranges_inside_subnet": "the range is not inside its subnet",
        "ip_ranges_ordered": "start_ip is after end_ip",
        "ip_ranges_subnet_fkey": "no subnet with this subnet_id",
        "subnets_no_overlap": "the cidr overlaps an existing subnet",
        "subnets_gateway_inside": "the gateway is outside the subnet",
        "subnets_id_cidr_key": "the subnet is in use",
        "machines_hostname_key": "another machine has this hostname",
        "machines_system_id_key": "another machine has this system id",
        "vlans_fabric_vid_key": "the fabric already has a VLAN with this vid",
        "vlans_dhcp_needs_primary_rack": "dhcp_on needs a primary_rack_id",
        "vlans_secondary_needs_primary": "a secondary rack needs a primary rack",
        "vlans_racks_differ": "primary and secondary rack must differ",
        "vlans_relay_without_dhcp": "a relayed VLAN has DHCP off (its DHCP is served on the relay VLAN)",
        "fabrics_name_key": "another fabric has this name",
        "domains_name_key": "another domain has this name",
        "dns_records_key": "the same record already exists",
        "dns_records_address_family": "an A record needs an IPv4 address and an AAAA record an IPv6 one",
        "rack_controllers_name_key": "another rack controller has this name",
        "boot_resources_name_architecture_key": "a boot resource with this name and architecture exists",
        "users_username_key": "another user has this name",
        "host_address_is_host": "an address must be a single host, without a prefix length",
        "dns_label_syntax": "not a valid DNS label (lower-case letters, digits and hyphens, at most 63)",
        "dns_name_syntax": "not a valid DNS name",
        "sha256_hex_syntax": "a SHA-256 must be 64 lower-case hex digits",
        "architecture_known": "unknown architecture (amd64, arm64, i386, armhf, ppc64el, s390x, riscv64)",
    ]

    static func apiError(for error: PostgresError, operation: Operation) -> APIError? {
        guard error.kind == .statement, let state = error.sqlState else { return nil }
        let status: HTTPResponse.Status
        switch state {
        case SQLState.uniqueViolation, SQLState.exclusionViolation:
            status = .conflict
        case SQLState.foreignKeyViolation:
            // Deleting something still referenced is a conflict with the current state; naming
            // something that does not exist is bad input.
            status = operation == .delete ? .conflict : .unprocessableContent
        case SQLState.checkViolation, SQLState.notNullViolation:
            status = .unprocessableContent
        case _ where state.hasPrefix("22"):
            // Data exceptions: bad text for a type (an address, a MAC), out-of-range numbers.
            status = .unprocessableContent
        case "54000":
            // program_limit_exceeded: a value too long to index.
            status = .unprocessableContent
        default:
            return nil
        }
        var message = error.message
        if let constraint = error.constraint {
            let explanation = explanations[constraint] ?? "refused by \(constraint)"
            message = "\(explanation) (constraint \(constraint))"
        }
        if let detail = error.detail, !detail.isEmpty {
            message += ": \(detail)"
        }
        return APIError(status, message)
    }
}
