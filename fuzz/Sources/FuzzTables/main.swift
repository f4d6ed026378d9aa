import FuzzSupport
import WireChecks

/// Opens the input as a table snapshot; whatever the reader accepts must then answer every
/// accessor without a crash or an out-of-bounds read (see `TablesChecks`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    TablesChecks.exerciseReader(input(data, size))
    return 0
}

@_cdecl("FuzzTables_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc: argc, argv: argv, fuzzOne)
}
