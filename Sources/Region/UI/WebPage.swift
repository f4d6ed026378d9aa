import Hummingbird
import Mustache

/// The web UI's templates (`UI/Templates/*.mustache`, compiled into the binary) and the page
/// frame around them. `{{ }}` escapes HTML; the frame's `{{{body}}}` is the only unescaped
/// value, and it is a page this renderer made.
enum WebPage {
    /// Every template by name; `part_*` are partials the pages include.
    static let templates: [String: [UInt8]] = [
        "layout": PackageResources.layout_mustache,
        "login": PackageResources.login_mustache,
        "error": PackageResources.error_mustache,
        "machines": PackageResources.machines_mustache,
        "machine": PackageResources.machine_mustache,
        "machine_new": PackageResources.machine_new_mustache,
        "subnets": PackageResources.subnets_mustache,
        "subnet": PackageResources.subnet_mustache,
        "ranges": PackageResources.ranges_mustache,
        "leases": PackageResources.leases_mustache,
        "racks": PackageResources.racks_mustache,
        "dns": PackageResources.dns_mustache,
        "boot_resources": PackageResources.boot_resources_mustache,
        "events": PackageResources.events_mustache,
        "part_bar": PackageResources.part_bar_mustache,
        "part_leases": PackageResources.part_leases_mustache,
    ]

    /// Parsed once. The templates are part of the program: one that does not parse is a bug,
    /// which `WebUITests` catches before anything runs.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, bytes) in templates {
            do {
                try library.register(String(decoding: bytes, as: UTF8.self), named: name)
            } catch {
                preconditionFailure("web UI template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    /// The sections of the navigation bar: (path under /ui, label).
    static let sections: [(path: String, label: String)] = [
        ("machines", "Machines"), ("subnets", "Subnets"), ("ranges", "Ranges"), ("leases", "Leases"),
        ("racks", "Racks"), ("dns", "DNS"), ("boot-resources", "Boot resources"), ("events", "Events"),
    ]

    /// Headers of every page: never cached (they show live state and a CSRF token), never framed,
    /// and scripts and styles from the region only.
    static var headers: HTTPFields {
        [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            .xContentTypeOptions: "nosniff",
            xFrameOptions: "DENY",
            referrerPolicy: "same-origin",
        ]
    }

    // Not among swift-http-types' names.
    static let xFrameOptions = HTTPFields.Element.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPFields.Element.Name("Referrer-Policy")!

    /// Renders `template` with `values` inside the frame. `section` marks the navigation entry.
    static func response(
        _ template: String, title: String, section: String? = nil, values: [String: Any] = [:],
        session: WebSession?, status: HTTPResponse.Status = .ok
    ) -> Response {
        var values = values
        if let session {
            values["csrf"] = session.csrfToken
            values["isAdmin"] = session.identity.role == .admin
        }
        let body = library.render(values, withTemplate: template) ?? ""
        var frame: [String: Any] = ["title": title, "body": body, "signedIn": session != nil]
        if let session {
            frame["user"] = session.identity.name
            frame["role"] = session.identity.role.rawValue
            frame["csrf"] = session.csrfToken
            frame["flash"] = session.flash ?? Absent()
            frame["nav"] = sections.map { entry -> [String: Any] in
                ["href": "/ui/\(entry.path)", "label": entry.label, "active": entry.path == section]
            }
        }
        let html = library.render(frame, withTemplate: "layout") ?? ""
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// 303 See Other: after a POST, the browser GETs `location` (a reload does not repeat it).
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}
