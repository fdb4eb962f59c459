#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads files with POSIX calls, so that errors carry the system's reason.
enum FileIO {
    /// The bytes of `path`, from `offset`, `length` bytes (or to the end).
    /// Throws a one-line reason (without the path) on failure.
    static func read(_ path: String, offset: Int = 0, length: Int? = nil) throws(FileIOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileIOError(reason: systemError()) }
        defer { close(fd) }
        var status = stat()
        if fstat(fd, &status) != 0 { throw FileIOError(reason: systemError()) }
        if (status.st_mode & S_IFMT) == S_IFDIR { throw FileIOError(reason: "is a directory") }
        let size = Int(status.st_size)
        guard offset >= 0, offset <= size else {
            throw FileIOError(reason: "offset \(offset) is past the end of the \(size)-byte file")
        }
        let count = length ?? (size - offset)
        guard count >= 0, count <= size - offset else {
            throw FileIOError(reason: "needs \(count) bytes at offset \(offset), but the file has \(size) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(reason: systemError())
            }
            if n == 0 { throw FileIOError(reason: "file ended after \(offset + done) bytes") }
            done += n
        }
        return bytes
    }
}

public struct FileIOError: Error {
    public var reason: String
}

/// The text of the current `errno`.
func systemError() -> String {
    guard let text = strerror(errno) else { return "error \(errno)" }
    return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
}
