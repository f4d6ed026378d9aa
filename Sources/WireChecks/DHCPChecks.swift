import Wire

/// Properties of the DHCP codec, run by the fuzz targets on random input and by the unit tests
/// on every kept finding (`fuzz/regressions/`). Each returns a description of the violation,
/// or nil.
public enum DHCPChecks {
    /// Parses `bytes` and reads every option through every accessor. Returns nothing: the
    /// property is that none of it crashes, reads out of bounds or loops.
    public static func exerciseAccessors(_ bytes: UnsafeRawBufferPointer) {
        guard let m = try? DHCPMessage(parsing: bytes) else { return }
        _ = (m.op, m.xid, m.flags, m.ciaddr, m.yiaddr, m.siaddr, m.giaddr, m.clientMAC, m.sname, m.file, m.messageType)
        for option in m.options { _ = option.value.count }
        _ = try? m.subnetMask(); _ = try? m.routers(); _ = try? m.domainNameServers()
        _ = m.hostName(); _ = m.domainName(); _ = try? m.interfaceMTU(); _ = try? m.broadcastAddress()
        _ = try? m.requestedIPAddress(); _ = try? m.leaseTime()
        _ = try? m.serverIdentifier(); _ = m.parameterRequestList(); _ = try? m.maximumMessageSize()
        _ = try? m.renewalTime(); _ = try? m.rebindingTime(); _ = m.vendorClassIdentifier()
        _ = m.vendorClassHasPrefix("PXEClient"); _ = m.clientIdentifier(); _ = m.tftpServerName()
        _ = m.bootfileName(); _ = m.userClass(); _ = m.userClassContains("iPXE"); _ = try? m.clientFQDN()
        _ = try? m.relayAgentInformation(); _ = try? m.clientSystemArchitectures(); _ = try? m.clientSystemArchitecture()
        _ = try? m.clientNetworkInterface(); _ = try? m.clientMachineIdentifier(); _ = try? m.subnetSelection()
        _ = try? m.classlessStaticRoutes(); _ = try? m.ipxeEncapsulatedOptions()
        _ = m.pxelinuxConfigFile(); _ = m.pxelinuxPathPrefix()
        _ = m.withOption(DHCPOptionCode.vendorSpecific) { value in
            var iterator = DHCPSubOptionIterator(value, padAndEnd: true)
            while let _ = try? iterator.next() {}
        }
    }

    /// A message that parses re-encodes, and the re-encoding parses to the same header and the
    /// same options (joined values, first-instance order).
    public static func roundTrip(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let m = try? DHCPMessage(parsing: bytes) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 8) { buffer -> String? in
            let length: Int
            do throws(WireError) {
                length = try DHCPMessageWriter.reencode(m, into: buffer)
            } catch {
                return "re-encode failed: \(error)"
            }
            let again: DHCPMessage
            do throws(WireError) {
                again = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            } catch {
                return "re-encoded message does not parse: \(error)"
            }
            guard again.xid == m.xid, again.op == m.op, again.htype == m.htype, again.hops == m.hops,
                  again.secs == m.secs, again.flags == m.flags, again.chaddr.elementsEqual(m.chaddr),
                  again.ciaddr == m.ciaddr, again.yiaddr == m.yiaddr, again.siaddr == m.siaddr,
                  again.giaddr == m.giaddr, again.rawMessageType == m.rawMessageType
            else { return "header differs after round trip" }
            var seen = InlineArray<4, UInt64>(repeating: 0)
            for option in m.options where option.code != DHCPOptionCode.optionOverload {
                let word = Int(option.code >> 6), bit: UInt64 = 1 << UInt64(option.code & 63)
                if seen[word] & bit != 0 { continue }
                seen[word] |= bit
                let same = m.withOption(option.code) { original in
                    again.withOption(option.code) { copy in original.elementsEqual(copy) } ?? false
                } ?? false
                if !same { return "option \(option.code) differs after round trip" }
            }
            return nil
        }
    }
}
