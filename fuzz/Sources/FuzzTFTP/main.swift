import FuzzSupport
import WireChecks

/// Parses the input as a TFTP packet, reads every accessor and option, and writes what the writers can express back and parses it (see `TFTPChecks`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    if let violation = TFTPChecks.exerciseAll(bytes) { propertyFailed(violation) }
    if let violation = TFTPChecks.writeParse(bytes) { propertyFailed(violation) }
    return 0
}

@_cdecl("FuzzTFTP_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
