#if canImport(Glibc)
    import Glibc
#endif

/// Writes whole files so that readers see the old file or the new one, never a part:
/// a temporary file in the same directory, fsync, then rename over the destination.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(FileIOError) {
        let directory = ONNXImporter.directoryOf(path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw FileIOError(reason: "cannot create a temporary file in \(directory): \(systemError())") }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = systemError()
                close(fd)
                throw FileIOError(reason: reason)
            }
            done += n
        }
        fchmod(fd, 0o644)
        if fsync(fd) != 0 || close(fd) != 0 {
            throw FileIOError(reason: systemError())
        }
        if rename(temporary, path) != 0 { throw FileIOError(reason: systemError()) }
        ok = true
    }
}
