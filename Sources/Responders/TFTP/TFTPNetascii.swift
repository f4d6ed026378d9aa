/// netascii (RFC 764 via RFC 1350): "CR LF" for a newline, "CR NUL" for a bare CR.
///
/// netascii is served by converting the whole file once, before the transfer, into a buffer
/// the caller owns, then running the same offset-based `TFTPTransfer` over the converted image
/// (with `size` = `encodedCount`). Converting block by block on the fly would need the file
/// position of every block of the unacknowledged window (a two-byte expansion can straddle a
/// block boundary) and could not send from the mapping anyway, since the bytes differ. netascii
/// is for text (configs, which are rendered into memory regardless); PXE ROMs, iPXE, GRUB,
/// pxelinux and curl ask for octet, so the bulk path stays zero-copy.
///
/// The mapping is byte by byte, so a client decoding CR LF → LF and CR NUL → CR gets the file
/// back byte-identical, CR LF line ends included (sent as CR NUL CR LF).
public enum TFTPNetascii {
    /// The converted length of `bytes`: one extra byte per LF and per CR.
    public static func encodedCount(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var count = UInt64(bytes.count)
        for b in bytes where b == 0x0A || b == 0x0D { count += 1 }
        return count
    }

    /// Writes the conversion of `bytes` into `output` (at least `encodedCount` bytes) and
    /// returns the length written.
    public static func encode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        var n = 0
        for b in bytes {
            switch b {
            case 0x0A:
                output[n] = 0x0D
                output[n + 1] = 0x0A
                n += 2
            case 0x0D:
                output[n] = 0x0D
                output[n + 1] = 0
                n += 2
            default:
                output[n] = b
                n += 1
            }
        }
        return n
    }

    /// The conversion of `bytes` as an array.
    public static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        return input.withUnsafeBytes { raw in
            [UInt8](unsafeUninitializedCapacity: Int(encodedCount(raw))) { buffer, count in
                count = encode(raw, into: UnsafeMutableRawBufferPointer(buffer))
            }
        }
    }
}
