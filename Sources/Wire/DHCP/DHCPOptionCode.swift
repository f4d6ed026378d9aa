/// DHCPv4 option codes (RFC 2132 and later), as named by IANA's registry.
public enum DHCPOptionCode {
    public static let pad: UInt8 = 0
    public static let subnetMask: UInt8 = 1
    public static let router: UInt8 = 3
    public static let domainNameServer: UInt8 = 6
    public static let hostName: UInt8 = 12
    public static let domainName: UInt8 = 15
    public static let interfaceMTU: UInt8 = 26
    public static let broadcastAddress: UInt8 = 28
    public static let vendorSpecific: UInt8 = 43
    public static let requestedIPAddress: UInt8 = 50
    public static let leaseTime: UInt8 = 51
    public static let optionOverload: UInt8 = 52
    public static let messageType: UInt8 = 53
    public static let serverIdentifier: UInt8 = 54
    public static let parameterRequestList: UInt8 = 55
    public static let message: UInt8 = 56
    public static let maximumMessageSize: UInt8 = 57
    public static let renewalTime: UInt8 = 58
    public static let rebindingTime: UInt8 = 59
    public static let vendorClassIdentifier: UInt8 = 60
    public static let clientIdentifier: UInt8 = 61
    public static let tftpServerName: UInt8 = 66
    public static let bootfileName: UInt8 = 67
    public static let userClass: UInt8 = 77
    public static let clientFQDN: UInt8 = 81
    public static let relayAgentInformation: UInt8 = 82
    public static let clientSystemArchitecture: UInt8 = 93
    public static let clientNetworkInterface: UInt8 = 94
    public static let clientMachineIdentifier: UInt8 = 97
    public static let subnetSelection: UInt8 = 118
    public static let classlessStaticRoute: UInt8 = 121
    public static let ipxeEncapsulated: UInt8 = 175
    public static let pxelinuxConfigFile: UInt8 = 209
    public static let pxelinuxPathPrefix: UInt8 = 210
    public static let end: UInt8 = 255
}
