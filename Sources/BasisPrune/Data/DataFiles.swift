#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
internal import CZlib

/// File-system questions the loaders ask, answered with POSIX calls.
enum DataFiles {
    enum Kind { case missing, file, directory }

    static func kind(_ path: String) -> Kind {
        var status = stat()
        guard stat(path, &status) == 0 else { return .missing }
        return (status.st_mode & S_IFMT) == S_IFDIR ? .directory : .file
    }

    /// Throws `.unreadable` unless `path` is a directory.
    static func requireDirectory(_ path: String) throws(DataError) {
        switch kind(path) {
        case .directory: return
        case .file: throw .unreadable(path: path, reason: "not a directory")
        case .missing: throw .unreadable(path: path, reason: "no such directory")
        }
    }

    /// The names in `directory`, without hidden ones, sorted by their UTF-8 bytes
    /// (so the order, and with it the class indices, does not depend on the locale).
    static func list(_ directory: String) throws(DataError) -> [String] {
        guard let handle = opendir(directory) else {
            throw .unreadable(path: directory, reason: systemError())
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The whole file, as `.unreadable` on failure.
    static func read(_ path: String) throws(DataError) -> [UInt8] {
        do {
            return try FileIO.read(path)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
    }
}

/// Sequential reads of a file that may be gzip-compressed (zlib reads plain files as they are).
final class GzipReader {
    let path: String
    private let file: gzFile

    init(path: String) throws(DataError) {
        self.path = path
        errno = 0
        guard let file = gzopen(path, "rb") else {
            throw .unreadable(path: path, reason: errno == 0 ? "gzopen failed" : systemError())
        }
        self.file = file
        gzbuffer(file, 1 << 17)
    }

    deinit { gzclose(file) }

    /// Reads up to `count` bytes into `buffer`; returns how many were read (fewer only at the end).
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(DataError) -> Int {
        var done = 0
        while done < count {
            let chunk = UInt32(min(count - done, 1 << 30))
            let n = Int(gzread(file, buffer + done, chunk))
            if n < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
                throw .malformed(file: path, reason: "gzip: \(message)")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads `count` bytes into a new array, which is shorter when the file ends first. The array
    /// grows by chunks as bytes arrive, so a header promising more than the file holds costs
    /// no more memory than the file.
    func read(count: Int) throws(DataError) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = min(count - bytes.count, 1 << 24)
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: chunk))
            // withUnsafeMutableBytes does not forward typed throws, so carry the outcome out.
            let outcome = bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(DataError) -> Int in try read(into: buffer.baseAddress! + start, count: chunk) }
            }
            let n = try outcome.get()
            if n < chunk {
                bytes.removeLast(chunk - n)
                break
            }
        }
        return bytes
    }

    /// The size of the file on disk (compressed, for a gzip file).
    var fileSize: Int {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_size) : 0
    }

    /// The most bytes this file can hold once decompressed: its size for a plain file, the size
    /// times deflate's largest ratio (1032:1) for a gzip file (which starts with 1f 8b).
    var maximumContentSize: Int {
        var magic = [UInt8](repeating: 0, count: 2)
        let size = fileSize
        guard let handle = fopen(path, "rb") else { return size }
        defer { fclose(handle) }
        let isGzip = fread(&magic, 1, 2, handle) == 2 && magic == [0x1F, 0x8B]
        return isGzip ? size.multipliedReportingOverflow(by: 1032).partialValue + 64 : size
    }
}
