import FuzzSupport
import WireChecks

/// Parses the input as a DNS message and reads every question, record, typed RDATA and name (see `DNSChecks.exerciseAll`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let violation = DNSChecks.exerciseAll(input(data, size)) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzDNS_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
