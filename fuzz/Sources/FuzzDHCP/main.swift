import FuzzSupport
import WireChecks

/// Parses the input as a DHCP message and reads every option through every typed accessor.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    DHCPChecks.exerciseAccessors(input(data, size))
    return 0
}

@_cdecl("FuzzDHCP_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
