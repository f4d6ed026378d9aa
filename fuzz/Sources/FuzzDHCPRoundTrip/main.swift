import FuzzSupport
import WireChecks

/// Property: parse → encode → parse gives the same view.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let violation = DHCPChecks.roundTrip(input(data, size)) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzDHCPRoundTrip_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
