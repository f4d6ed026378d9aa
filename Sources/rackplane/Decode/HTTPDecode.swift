import Wire

/// Adds the `pcap decode` fields of one HTTP request head to `line`: `method`, `target`,
/// `version`, `headers` (lower-case names; a repeated field's values joined with ", ") and
/// `range` (the raw Range value). A head that is cut short or does not parse gets `error` and
/// the fields of its complete lines, read leniently.
func decodeHTTPRequest(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) {
    let error: WireError
    do {
        switch try HTTPRequestHead.parse(payload) {
        case .complete(let head):
            line.add("method", printableString(head.methodBytes, stopAtNUL: false))
            line.add("target", printableString(head.target, stopAtNUL: false))
            line.add("version", head.version.name.description)
            addHeaders(head.headers.lazy.map { ($0.name, $0.value) }, into: &line)
            return
        case .incomplete:
            error = WireError(.truncated, "http.head", at: payload.count)
        }
    } catch let thrown {
        error = thrown
    }
    addLeniently(payload, into: &line)
    line.add("error", error.description)
}

private func addHeaders(_ fields: some Sequence<(UnsafeRawBufferPointer, UnsafeRawBufferPointer)>, into line: inout JSONLine) {
    var names: [String] = []
    var values: [String: [String]] = [:]
    for (name, value) in fields {
        let key = printableString(name, stopAtNUL: false).lowercased()
        if values[key] == nil { names.append(key) }
        values[key, default: []].append(printableString(value, stopAtNUL: false))
    }
    var object = JSONLine()
    for name in names { object.add(name, values[name]!.joined(separator: ", ")) }
    line.add("headers", object: object)
    if let range = values["range"] { line.add("range", range.joined(separator: ", ")) }
}

/// The request line's parts and the header lines that end in a line break, split without
/// validation, up to the first line that is not "name: value".
private func addLeniently(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) {
    var lines: [UnsafeRawBufferPointer] = []
    var start = 0
    var i = 0
    while i < payload.count {
        if payload[i] == 0x0A {
            let end = i > start && payload[i - 1] == 0x0D ? i - 1 : i
            lines.append(UnsafeRawBufferPointer(rebasing: payload[start..<end]))
            start = i + 1
        }
        i += 1
    }
    // The request line may be all there is, without its line break.
    if lines.isEmpty { lines.append(UnsafeRawBufferPointer(rebasing: payload[start...])) }
    while let first = lines.first, first.isEmpty { lines.removeFirst() }
    guard let requestLine = lines.first else { return }
    let parts = requestLine.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
    let keys = ["method", "target", "version"]
    for (key, part) in zip(keys, parts) where !part.isEmpty {
        line.add(key, printableString(UnsafeRawBufferPointer(rebasing: part), stopAtNUL: false))
    }
    var fields: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer)] = []
    for text in lines.dropFirst() {
        guard let colon = text.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { break }
        var value = text[(colon + 1)...]
        while let b = value.first, b == 0x20 || b == 0x09 { value = value.dropFirst() }
        while let b = value.last, b == 0x20 || b == 0x09 { value = value.dropLast() }
        fields.append((UnsafeRawBufferPointer(rebasing: text[..<colon]), UnsafeRawBufferPointer(rebasing: value)))
    }
    if !fields.isEmpty { addHeaders(fields, into: &line) }
}
