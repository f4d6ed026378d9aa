import FuzzSupport
import WireChecks

/// Sends the input to the DNS responder as a query over UDP and TCP, from a client allowed to
/// recurse and transfer and from a stranger: every reply must parse, be a response, keep the
/// ID and fit the transport (see `DNSResponderChecks`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let violation = DNSResponderChecks.answer(input(data, size)) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzDNSResponder_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
