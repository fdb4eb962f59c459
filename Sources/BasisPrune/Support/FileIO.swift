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
        // O_NONBLOCK: opening a named pipe must not wait for a writer (it is refused below).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw FileIOError(reason: systemError()) }
        defer { close(fd) }
        var status = stat()
        if fstat(fd, &status) != 0 { throw FileIOError(reason: systemError()) }
        if (status.st_mode & S_IFMT) == S_IFDIR { throw FileIOError(reason: "is a directory") }
        if (status.st_mode & S_IFMT) != S_IFREG { throw FileIOError(reason: "is not a regular file (a pipe, socket or device)") }
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

/// The canonical absolute path of an existing `path` (symlinks, `.` and `..` resolved), or nil.
func resolvedPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The text of the current `errno`.
func systemError() -> String {
    guard let text = strerror(errno) else { return "error \(errno)" }
    return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
}
