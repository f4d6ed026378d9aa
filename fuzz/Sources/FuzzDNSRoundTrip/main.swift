import FuzzSupport
import WireChecks

/// Property: parse → DNSMessageWriter → parse gives the same message, and re-encoding is a fixpoint (see `DNSChecks.roundTrip`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let violation = DNSChecks.roundTrip(input(data, size)) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzDNSRoundTrip_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
