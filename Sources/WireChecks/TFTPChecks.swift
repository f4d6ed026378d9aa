import Wire

/// Properties of the TFTP codec, run by the `FuzzTFTP` target on random input and by the unit
/// tests on every kept finding (`fuzz/regressions/`). Each returns a description of the
/// violation, or nil.
public enum TFTPChecks {
    /// Parses `bytes` and reads every accessor of the packet, every option and every typed option
    /// value. Beyond "nothing crashes, reads out of bounds or loops": the views lie inside the
    /// datagram, options iterate to exactly the end of the packet, `first(named:)` agrees with
    /// iteration, and `values()` agrees with the single accessors.
    public static func exerciseAll(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let packet = try? TFTPPacket.parse(bytes) else { return nil }
        guard bytes.count >= 2, bytes.uint16(at: 0) == packet.opcode.rawValue else { return "opcode \(packet.opcode) is not the first two bytes" }
        switch packet {
        case .readRequest(let request), .writeRequest(let request):
            guard request.opcode == packet.opcode else { return "request opcode differs from the packet's" }
            guard request.filenameRange.lowerBound == 2, request.filenameRange.upperBound < bytes.count,
                  bytes[request.filenameRange.upperBound] == 0, !request.filename.contains(0)
            else { return "filename \(request.filenameRange) is not a NUL-terminated string at 2" }
            guard request.modeRange.lowerBound == request.filenameRange.upperBound + 1, request.modeRange.upperBound < bytes.count,
                  bytes[request.modeRange.upperBound] == 0, !request.modeBytes.contains(0)
            else { return "mode \(request.modeRange) is not the NUL-terminated string after the filename" }
            guard TFTPMode(bytes: request.modeBytes) == request.mode else { return "mode does not name \(request.mode)" }
            _ = request.mode.name
            guard request.options.range.lowerBound == request.modeRange.upperBound + 1 else { return "options do not follow the mode" }
            return checkOptions(request.options, bytes)
        case .data(let data):
            guard bytes.count >= 4, data.block == bytes.uint16(at: 2), data.payload.count == bytes.count - 4 else {
                return "DATA block or payload is not the packet's"
            }
        case .acknowledgement(let block):
            guard bytes.count == 4, block == bytes.uint16(at: 2) else { return "ACK is not opcode + block" }
        case .error(let error):
            guard error.code == bytes.uint16(at: 2), error.messageRange.lowerBound == 4,
                  error.messageRange.upperBound == bytes.count - 1, bytes[bytes.count - 1] == 0, !error.message.contains(0)
            else { return "ERROR message \(error.messageRange) is not the NUL-terminated rest" }
            _ = error.knownCode
        case .optionAcknowledgement(let options):
            guard options.range.lowerBound == 2 else { return "OACK options do not start at 2" }
            return checkOptions(options, bytes)
        }
        return nil
    }

    static func checkOptions(_ options: TFTPOptions, _ bytes: UnsafeRawBufferPointer) -> String? {
        guard options.range.upperBound == bytes.count else { return "options end at \(options.range.upperBound), not at the packet's end" }
        guard options.isEmpty == options.range.isEmpty else { return "isEmpty is wrong" }
        var position = options.range.lowerBound
        for option in options {
            guard !option.name.contains(0), !option.value.contains(0), option.valueOffset == position + option.name.count + 1,
                  option.name.count == 0 || option.name.baseAddress! - bytes.baseAddress! == position,
                  option.value.count == 0 || option.value.baseAddress! - bytes.baseAddress! == option.valueOffset
            else { return "option at \(position) is not where iteration stands" }
            position = option.valueOffset + option.value.count + 1
            guard position <= bytes.count, bytes[position - 1] == 0 else { return "option value at \(option.valueOffset) not NUL-terminated" }
        }
        guard position == options.range.upperBound else { return "options iterate to \(position) of \(options.range)" }

        // `first(named:)` is the first case-insensitive match of iteration.
        for name: StaticString in ["blksize", "tsize", "timeout", "windowsize", "multicast"] {
            let found = options.first(named: name)
            var expected: TFTPOption?
            for option in options where ASCII.equalsIgnoringCase(option.name, name) {
                expected = option
                break
            }
            guard found?.valueOffset == expected?.valueOffset else { return "first(named: \(name)) is not the first match" }
        }

        let blockSize = Result { () throws(WireError) in try options.blockSize() }
        let transferSize = Result { () throws(WireError) in try options.transferSize() }
        let timeout = Result { () throws(WireError) in try options.timeout() }
        let windowSize = Result { () throws(WireError) in try options.windowSize() }
        if case .success(let v?) = blockSize { guard (8...65464).contains(v) else { return "blksize \(v) out of range" } }
        if case .success(let v?) = timeout { guard v >= 1 else { return "timeout 0 accepted" } }
        if case .success(let v?) = windowSize { guard v >= 1 else { return "windowsize 0 accepted" } }
        switch Result(catching: { () throws(WireError) in try options.values() }) {
        case .success(let values):
            guard case .success(values.blockSize) = blockSize, case .success(values.transferSize) = transferSize,
                  case .success(values.timeout) = timeout, case .success(values.windowSize) = windowSize
            else { return "values() differs from the single accessors" }
            guard values.isEmpty == (values == TFTPOptionValues()) else { return "TFTPOptionValues.isEmpty is wrong" }
        case .failure:
            let anyFails = [blockSize.isFailure, transferSize.isFailure, timeout.isFailure, windowSize.isFailure].contains(true)
            guard anyFails else { return "values() throws but every accessor succeeds" }
        }
        return nil
    }

    /// Write → parse, driven by the parsed packet: whatever `TFTPPacket`'s writers can express
    /// about a packet that parses is written again and must parse back to the same packet.
    /// - RRQ/WRQ: filename, mode (as its lower-case name) and the known options' values (when
    ///   they are valid; unknown options are not written).
    /// - DATA: block and payload (`writeDataHeader` + the payload appended).
    /// - ACK: block. ERROR: a known code and the message. OACK: the known options' values.
    /// For ACK and ERROR (known code) the written bytes must also equal the input, which has only
    /// one valid spelling; for DATA too.
    public static func writeParse(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let packet = try? TFTPPacket.parse(bytes) else { return nil }
        let capacity = bytes.count + 128
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        var writer = WireWriter(buffer)
        var deferred: [UnsafeMutableRawBufferPointer] = []
        defer { for copy in deferred { copy.deallocate() } }

        func parseWritten() -> Result<TFTPPacket, DNSChecks.Failure> {
            // A copy of exactly the written size, so a read past it is an ASan report.
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: writer.count, alignment: 1)
            copy.copyMemory(from: writer.written)
            // Freed when `writeParse` returns, after the comparisons.
            deferred.append(copy)
            do throws(WireError) {
                return .success(try TFTPPacket.parse(UnsafeRawBufferPointer(copy)))
            } catch {
                return .failure(DNSChecks.Failure("written \(packet.opcode) does not parse: \(error)"))
            }
        }

        do throws(WireError) {
            switch packet {
            case .readRequest(let request), .writeRequest(let request):
                guard let values = try? request.options.values() else { return nil }
                if request.opcode == .readRequest {
                    try TFTPPacket.writeReadRequest(filename: request.filename, mode: request.mode, options: values, into: &writer)
                } else {
                    try TFTPPacket.writeWriteRequest(filename: request.filename, mode: request.mode, options: values, into: &writer)
                }
                switch parseWritten() {
                case .failure(let f): return f.why
                case .success(.readRequest(let again)) where request.opcode == .readRequest,
                     .success(.writeRequest(let again)) where request.opcode == .writeRequest:
                    guard again.filename.elementsEqual(request.filename) else { return "filename changed" }
                    guard again.mode == request.mode else { return "mode \(request.mode) became \(again.mode)" }
                    guard let valuesAgain = try? again.options.values() else { return "written options do not read back" }
                    guard valuesAgain == values else { return "options \(values) became \(valuesAgain)" }
                case .success(let other): return "\(packet.opcode) became \(other.opcode)"
                }
            case .data(let data):
                try TFTPPacket.writeDataHeader(block: data.block, into: &writer)
                try writer.writeBytes(data.payload, "tftp.data.payload")
                guard writer.written.elementsEqual(bytes) else { return "DATA written differs from the input" }
                guard case .success(.data(let again)) = parseWritten(), again.block == data.block,
                      again.payload.elementsEqual(data.payload)
                else { return "DATA does not read back" }
            case .acknowledgement(let block):
                try TFTPPacket.writeAcknowledgement(block: block, into: &writer)
                guard writer.written.elementsEqual(bytes) else { return "ACK written differs from the input" }
                guard case .success(.acknowledgement(let again)) = parseWritten(), again == block else { return "ACK does not read back" }
            case .error(let error):
                guard let code = error.knownCode else { return nil }
                try TFTPPacket.writeError(code, message: error.message, into: &writer)
                guard writer.written.elementsEqual(bytes) else { return "ERROR written differs from the input" }
                guard case .success(.error(let again)) = parseWritten(), again.code == error.code,
                      again.message.elementsEqual(error.message)
                else { return "ERROR does not read back" }
            case .optionAcknowledgement(let options):
                guard let values = try? options.values() else { return nil }
                try TFTPPacket.writeOptionAcknowledgement(values, into: &writer)
                guard case .success(.optionAcknowledgement(let again)) = parseWritten() else { return "OACK does not read back as an OACK" }
                guard let valuesAgain = try? again.values(), valuesAgain == values else { return "OACK options changed" }
            }
        } catch {
            return "writing \(packet.opcode) failed: \(error)"
        }
        return nil
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
