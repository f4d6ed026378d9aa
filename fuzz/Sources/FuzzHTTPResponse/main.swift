import FuzzSupport
import WireChecks

/// Property: the response-head parser gives the same answer whole and for every prefix, and a
/// complete head's accessors hold up (see `HTTPResponseChecks`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let violation = HTTPResponseChecks.incremental(input(data, size)) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzHTTPResponse_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
