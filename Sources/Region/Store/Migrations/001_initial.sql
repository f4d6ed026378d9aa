-- RackPlane region schema, version 1.
--
-- Integrity lives here, not only in Swift: one machine per MAC, static addresses inside their
-- subnet and unique, ranges inside their subnet and not overlapping. Constraint names are part of
-- the API: a refused write names the constraint (see Sources/Region/API/StoreErrorMapping.swift).

-- btree_gist lets an exclusion constraint mix "=" on an id with "&&" on a range.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- An inclusive run of addresses. inet orders IPv4 before IPv6, and the CHECKs below keep both ends
-- in one subnet, so a range never mixes families.
CREATE TYPE inet_range AS RANGE (SUBTYPE = inet);

-- A single host address: inet also accepts "10.0.0.1/24", which is a network, not a host.
CREATE DOMAIN host_address AS inet
    CONSTRAINT host_address_is_host CHECK (masklen(VALUE) = CASE family(VALUE) WHEN 4 THEN 32 ELSE 128 END);

-- A DNS label (RFC 1123), lower case.
CREATE DOMAIN dns_label AS text
    CONSTRAINT dns_label_syntax CHECK (VALUE ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');

-- A dotted DNS name of such labels.
CREATE DOMAIN dns_name AS text
    CONSTRAINT dns_name_syntax CHECK (
        length(VALUE) <= 253
        AND VALUE ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$');

CREATE DOMAIN sha256_hex AS text
    CONSTRAINT sha256_hex_syntax CHECK (VALUE ~ '^[0-9a-f]{64}$');

CREATE DOMAIN architecture AS text
    CONSTRAINT architecture_known CHECK (VALUE IN ('amd64', 'arm64', 'i386', 'armhf', 'ppc64el', 's390x', 'riscv64'));

-- Users and API tokens. Only a token's SHA-256 is stored.
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL CONSTRAINT users_username_syntax CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    role text NOT NULL CONSTRAINT users_role_known CHECK (role IN ('admin', 'read-only')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL CONSTRAINT api_tokens_user_fkey REFERENCES users ON DELETE CASCADE,
    description text NOT NULL DEFAULT '',
    token_sha256 sha256_hex NOT NULL CONSTRAINT api_tokens_token_sha256_key UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Region-wide values shared by every region process on this database (the rack secret).
CREATE TABLE region_settings (
    name text PRIMARY KEY,
    value text NOT NULL
);

-- Compiled table snapshots, addressed by the SHA-256 of their bytes.
CREATE TABLE table_snapshots (
    sha256 sha256_hex PRIMARY KEY,
    generation bigint NOT NULL,
    bytes bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Rises on every compile that changes a rack's tables, across every region process.
CREATE SEQUENCE tables_generation;

CREATE TABLE rack_controllers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name dns_label NOT NULL CONSTRAINT rack_controllers_name_key UNIQUE,
    description text NOT NULL DEFAULT '',
    -- The rack's current tables: generation, snapshot, and the digest of their content without
    -- the generation (so an unchanged model does not make a new generation).
    tables_generation bigint,
    tables_sha256 sha256_hex CONSTRAINT rack_controllers_tables_fkey REFERENCES table_snapshots,
    tables_fingerprint sha256_hex,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fabrics (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name dns_label NOT NULL CONSTRAINT fabrics_name_key UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE vlans (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fabric_id bigint NOT NULL CONSTRAINT vlans_fabric_fkey REFERENCES fabrics,
    vid integer NOT NULL CONSTRAINT vlans_vid_range CHECK (vid BETWEEN 0 AND 4094),
    name text NOT NULL DEFAULT '',
    mtu integer NOT NULL DEFAULT 1500 CONSTRAINT vlans_mtu_range CHECK (mtu BETWEEN 576 AND 65535),
    dhcp_on boolean NOT NULL DEFAULT false,
    primary_rack_id bigint CONSTRAINT vlans_primary_rack_fkey REFERENCES rack_controllers,
    secondary_rack_id bigint CONSTRAINT vlans_secondary_rack_fkey REFERENCES rack_controllers,
    -- DHCP for this VLAN is relayed to (served on) another VLAN.
    relay_vlan_id bigint CONSTRAINT vlans_relay_vlan_fkey REFERENCES vlans,
    CONSTRAINT vlans_fabric_vid_key UNIQUE (fabric_id, vid),
    CONSTRAINT vlans_dhcp_needs_primary_rack CHECK (NOT dhcp_on OR primary_rack_id IS NOT NULL),
    CONSTRAINT vlans_secondary_needs_primary CHECK (secondary_rack_id IS NULL OR primary_rack_id IS NOT NULL),
    CONSTRAINT vlans_racks_differ CHECK (secondary_rack_id IS DISTINCT FROM primary_rack_id OR secondary_rack_id IS NULL),
    CONSTRAINT vlans_relay_not_self CHECK (relay_vlan_id IS DISTINCT FROM id),
    CONSTRAINT vlans_relay_without_dhcp CHECK (relay_vlan_id IS NULL OR NOT dhcp_on)
);

CREATE TABLE domains (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name dns_name NOT NULL CONSTRAINT domains_name_key UNIQUE,
    authoritative boolean NOT NULL DEFAULT true,
    ttl integer CONSTRAINT domains_ttl_range CHECK (ttl BETWEEN 1 AND 2147483647),
    -- The domain machines are named in unless they say otherwise; exactly one row has it.
    is_default boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX domains_one_default ON domains (is_default) WHERE is_default;
INSERT INTO domains (name, is_default) VALUES ('maas', true);

CREATE TABLE subnets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vlan_id bigint NOT NULL CONSTRAINT subnets_vlan_fkey REFERENCES vlans,
    name text NOT NULL DEFAULT '',
    cidr cidr NOT NULL,
    gateway host_address,
    dns_servers host_address[] NOT NULL DEFAULT '{}',
    domain_id bigint CONSTRAINT subnets_domain_fkey REFERENCES domains,
    next_server host_address,
    lease_seconds integer NOT NULL DEFAULT 600 CONSTRAINT subnets_lease_seconds_range CHECK (lease_seconds BETWEEN 60 AND 31536000),
    -- Target of the (id, cidr) foreign keys that keep interface addresses and ranges inside.
    CONSTRAINT subnets_id_cidr_key UNIQUE (id, cidr),
    CONSTRAINT subnets_no_overlap EXCLUDE USING gist (cidr inet_ops WITH &&),
    CONSTRAINT subnets_gateway_inside CHECK (gateway << cidr),
    CONSTRAINT subnets_dns_servers_not_null CHECK (array_position(dns_servers, NULL) IS NULL)
);

-- Rows that belong to a subnet carry a copy of its cidr, tied to the subnet by a composite
-- foreign key (updated in cascade), so that a plain CHECK can keep their addresses inside it.
-- This trigger only fills the copy in; the foreign key is what guarantees it.
CREATE FUNCTION copy_subnet_cidr() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.subnet_id IS NULL THEN
        NEW.subnet_cidr := NULL;
        RETURN NEW;
    END IF;
    SELECT cidr INTO NEW.subnet_cidr FROM subnets WHERE id = NEW.subnet_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no subnet with id %', NEW.subnet_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_TABLE_NAME || '_subnet_fkey',
                  TABLE = TG_TABLE_NAME, COLUMN = 'subnet_id';
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE ip_ranges (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subnet_id bigint NOT NULL,
    subnet_cidr cidr NOT NULL,
    type text NOT NULL CONSTRAINT ip_ranges_type_known CHECK (type IN ('dynamic', 'reserved')),
    start_ip host_address NOT NULL,
    end_ip host_address NOT NULL,
    comment text NOT NULL DEFAULT '',
    CONSTRAINT ip_ranges_subnet_fkey FOREIGN KEY (subnet_id, subnet_cidr)
        REFERENCES subnets (id, cidr) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT ip_ranges_ordered CHECK (start_ip <= end_ip),
    CONSTRAINT ip_ranges_inside_subnet CHECK (start_ip << subnet_cidr AND end_ip << subnet_cidr),
    CONSTRAINT ip_ranges_no_overlap EXCLUDE USING gist (subnet_id WITH =, inet_range(start_ip, end_ip, '[]') WITH &&)
);
CREATE TRIGGER ip_ranges_copy_subnet_cidr BEFORE INSERT OR UPDATE OF subnet_id ON ip_ranges
    FOR EACH ROW EXECUTE FUNCTION copy_subnet_cidr();

CREATE TABLE machines (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id text NOT NULL DEFAULT substr(md5(random()::text || clock_timestamp()::text), 1, 8)
        CONSTRAINT machines_system_id_key UNIQUE,
    hostname dns_label NOT NULL CONSTRAINT machines_hostname_key UNIQUE,
    domain_id bigint NOT NULL CONSTRAINT machines_domain_fkey REFERENCES domains,
    architecture architecture NOT NULL DEFAULT 'amd64',
    status text NOT NULL DEFAULT 'new' CONSTRAINT machines_status_known CHECK (
        status IN ('new', 'commissioning', 'ready', 'deploying', 'deployed', 'releasing', 'broken')),
    power_type text NOT NULL DEFAULT 'manual'
        CONSTRAINT machines_power_type_known CHECK (power_type IN ('manual', 'ipmi', 'redfish', 'webhook')),
    power_parameters jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT machines_power_parameters_object CHECK (jsonb_typeof(power_parameters) = 'object'),
    -- What the rack renders when this machine network-boots; set by the machine actions.
    boot_purpose text NOT NULL DEFAULT 'local'
        CONSTRAINT machines_boot_purpose_known CHECK (boot_purpose IN ('commission', 'deploy', 'local', 'rescue')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE interfaces (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine_id bigint NOT NULL CONSTRAINT interfaces_machine_fkey REFERENCES machines ON DELETE CASCADE,
    name text NOT NULL DEFAULT 'eth0' CONSTRAINT interfaces_name_syntax CHECK (name ~ '^[A-Za-z0-9._-]{1,15}$'),
    -- One machine per MAC: a MAC belongs to one interface of one machine.
    mac macaddr NOT NULL CONSTRAINT interfaces_mac_key UNIQUE,
    subnet_id bigint,
    subnet_cidr cidr,
    mode text NOT NULL DEFAULT 'dhcp' CONSTRAINT interfaces_mode_known CHECK (mode IN ('static', 'dhcp', 'link-up')),
    ip host_address CONSTRAINT interfaces_ip_key UNIQUE,
    CONSTRAINT interfaces_subnet_fkey FOREIGN KEY (subnet_id, subnet_cidr)
        REFERENCES subnets (id, cidr) ON UPDATE CASCADE,
    CONSTRAINT interfaces_machine_name_key UNIQUE (machine_id, name),
    CONSTRAINT interfaces_static_needs_ip CHECK ((mode = 'static') = (ip IS NOT NULL)),
    CONSTRAINT interfaces_ip_needs_subnet CHECK (ip IS NULL OR subnet_id IS NOT NULL),
    CONSTRAINT interfaces_ip_inside_subnet CHECK (ip << subnet_cidr),
    CONSTRAINT interfaces_ip_not_network_or_broadcast CHECK (
        ip IS NULL OR family(ip) = 6 OR masklen(subnet_cidr) >= 31
        OR (host(ip) <> host(network(subnet_cidr)) AND host(ip) <> host(broadcast(subnet_cidr))))
);
CREATE TRIGGER interfaces_copy_subnet_cidr BEFORE INSERT OR UPDATE OF subnet_id ON interfaces
    FOR EACH ROW EXECUTE FUNCTION copy_subnet_cidr();
CREATE INDEX interfaces_subnet ON interfaces (subnet_id);

CREATE TABLE dns_records (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id bigint NOT NULL CONSTRAINT dns_records_domain_fkey REFERENCES domains ON DELETE CASCADE,
    -- Relative to the domain; "@" is the domain itself.
    name text NOT NULL CONSTRAINT dns_records_name_syntax CHECK (
        name = '@' OR name ~ '^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$'),
    type text NOT NULL CONSTRAINT dns_records_type_known CHECK (type IN ('A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'PTR', 'NS')),
    value text NOT NULL CONSTRAINT dns_records_value_not_empty CHECK (value <> ''),
    ttl integer CONSTRAINT dns_records_ttl_range CHECK (ttl BETWEEN 1 AND 2147483647),
    CONSTRAINT dns_records_key UNIQUE (domain_id, name, type, value),
    -- The cast refuses a value that is no address at all; family() the wrong kind.
    CONSTRAINT dns_records_address_family CHECK (
        type NOT IN ('A', 'AAAA') OR family(value::inet) = CASE type WHEN 'A' THEN 4 ELSE 6 END)
);

CREATE TABLE boot_resources (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- "ubuntu/noble", "debian/bookworm", …
    name text NOT NULL CONSTRAINT boot_resources_name_syntax CHECK (name ~ '^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$'),
    architecture architecture NOT NULL,
    kernel_file text NOT NULL,
    kernel_size bigint NOT NULL CONSTRAINT boot_resources_kernel_size_range CHECK (kernel_size >= 0),
    kernel_sha256 sha256_hex NOT NULL,
    initrd_file text NOT NULL,
    initrd_size bigint NOT NULL CONSTRAINT boot_resources_initrd_size_range CHECK (initrd_size >= 0),
    initrd_sha256 sha256_hex NOT NULL,
    rootfs_file text,
    rootfs_size bigint CONSTRAINT boot_resources_rootfs_size_range CHECK (rootfs_size >= 0),
    rootfs_sha256 sha256_hex,
    CONSTRAINT boot_resources_name_architecture_key UNIQUE (name, architecture),
    CONSTRAINT boot_resources_rootfs_complete CHECK (
        (rootfs_file IS NULL) = (rootfs_size IS NULL) AND (rootfs_size IS NULL) = (rootfs_sha256 IS NULL)),
    CONSTRAINT boot_resources_files_relative CHECK (
        kernel_file !~ '(^/|(^|/)\.\.(/|$))' AND initrd_file !~ '(^/|(^|/)\.\.(/|$))'
        AND (rootfs_file IS NULL OR rootfs_file !~ '(^/|(^|/)\.\.(/|$))'))
);

-- Filled by racks in a later slice; here so the model is whole.
CREATE TABLE leases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rack_id bigint NOT NULL CONSTRAINT leases_rack_fkey REFERENCES rack_controllers ON DELETE CASCADE,
    mac macaddr NOT NULL,
    ip host_address NOT NULL CONSTRAINT leases_ip_key UNIQUE,
    hostname text,
    starts_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One row per write through the API, in the write's own transaction.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    object_type text NOT NULL,
    object_id text,
    summary text NOT NULL DEFAULT ''
);

-- Any change to what racks serve wakes every region's compiler. Notifications are sent at
-- commit and folded when equal, so one transaction costs one wake-up per table at most.
CREATE FUNCTION notify_model_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rackplane_model_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER fabrics_changed AFTER INSERT OR UPDATE OR DELETE ON fabrics FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER vlans_changed AFTER INSERT OR UPDATE OR DELETE ON vlans FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER subnets_changed AFTER INSERT OR UPDATE OR DELETE ON subnets FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER ip_ranges_changed AFTER INSERT OR UPDATE OR DELETE ON ip_ranges FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER machines_changed AFTER INSERT OR UPDATE OR DELETE ON machines FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER interfaces_changed AFTER INSERT OR UPDATE OR DELETE ON interfaces FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE ON domains FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER dns_records_changed AFTER INSERT OR UPDATE OR DELETE ON dns_records FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
CREATE TRIGGER boot_resources_changed AFTER INSERT OR UPDATE OR DELETE ON boot_resources FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
-- Not on the compiler's own updates of tables_*: those would wake it again for nothing.
CREATE TRIGGER rack_controllers_changed AFTER INSERT OR DELETE OR UPDATE OF name ON rack_controllers FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
