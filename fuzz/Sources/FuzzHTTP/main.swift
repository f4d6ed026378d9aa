import FuzzSupport
import WireChecks

/// Property: the incremental request-head parser gives the same answer whole, split at every position and in random chunks; then every field accessor (see `HTTPChecks`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let violation = HTTPChecks.incremental(input(data, size)) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzHTTP_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
