import CLibPcap

/// An open pcap or pcapng file, read packet by packet through libpcap.
public final class CaptureFile {
    public struct OpenError: Error, CustomStringConvertible {
        public let description: String
    }

    private let handle: OpaquePointer
    /// The file's `LINKTYPE_*` value (see `Wire.LinkLayer`).
    public let linkType: Int32

    public init(path: String) throws {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline(path, &errorBuffer) else {
            throw OpenError(description: String(cString: errorBuffer))
        }
        self.handle = handle
        linkType = pcap_datalink(handle)
    }

    deinit { pcap_close(handle) }

    /// Calls `body` with each packet's 1-based frame number and captured bytes (valid only
    /// during the call). A read error after some packets ends the walk with an error.
    public func forEachPacket(_ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        var frame = 0
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == 1, let header, let data {
                frame += 1
                try body(frame, UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen)))
            } else if status == PCAP_ERROR_BREAK {
                return
            } else if status < 0 {
                throw OpenError(description: String(cString: pcap_geterr(handle)))
            }
        }
    }
}
