import ArgumentParser
import PacketCapture

struct PcapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcap",
        abstract: "Work with packet captures (pcap and pcapng).",
        subcommands: [PcapDecodeCommand.self]
    )
}

struct PcapDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print one JSON object per line for every DHCP, DNS, TFTP and HTTP-request packet."
    )

    @Argument(help: "A pcap or pcapng file.")
    var file: String

    func run() throws {
        let capture: CaptureFile
        do {
            capture = try CaptureFile(path: file)
        } catch {
            throw ValidationError("\(file): \(error)")
        }
        var decoder = CaptureDecoder(linkType: capture.linkType)
        var output = OutputBuffer()
        try capture.forEachPacket { frame, bytes in
            decoder.decode(frame: frame, bytes: bytes) { output.writeLine($0) }
        }
        output.flush()
    }
}
