import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes whole files so that readers see the old file or the new one, never a part:
/// a temporary file `.NAME.tmp-XXXXXX` in the same directory, fsync, then rename over the
/// destination. Staging and committing are separate steps, so that several files (a model and
/// its report) can be written first and renamed together at the end.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(FileIOError) {
        try Staged(bytes, to: path).commit()
    }

    /// A file written to its temporary name, not yet renamed; removed unless committed.
    public final class Staged {
        public let path: String
        /// Where the bytes are until `commit()` (readable, e.g. to verify a model before it replaces OUT).
        public let temporaryPath: String
        private var done = false

        /// Writes `bytes` to a fresh temporary file beside `path` and syncs it. Leftovers of earlier
        /// runs for the same `path` (a kill -9 during a write) are removed first.
        public init(_ bytes: [UInt8], to path: String) throws(FileIOError) {
            self.path = path
            let (directory, base) = AtomicFile.split(path)
            AtomicFile.removeLeftovers(directory: directory, base: base)
            var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd < 0 { throw FileIOError(reason: "cannot create a temporary file in \(directory): \(systemError())") }
            temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            PendingTemporaries.add(temporaryPath)
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    let reason = systemError()
                    close(fd)
                    discard()
                    throw FileIOError(reason: reason)
                }
                written += n
            }
            fchmod(fd, 0o644)
            if fsync(fd) != 0 || close(fd) != 0 {
                let reason = systemError()
                discard()
                throw FileIOError(reason: reason)
            }
        }

        /// Renames the temporary file over `path`.
        public func commit() throws(FileIOError) {
            guard !done else { return }
            if rename(temporaryPath, path) != 0 {
                let reason = systemError()
                discard()
                throw FileIOError(reason: reason)
            }
            done = true
            PendingTemporaries.remove(temporaryPath)
        }

        /// Removes the temporary file; `path` stays as it was.
        public func discard() {
            guard !done else { return }
            unlink(temporaryPath)
            done = true
            PendingTemporaries.remove(temporaryPath)
        }

        deinit { discard() }
    }

    /// Checks, before any work, that `path` can be written atomically: its directory exists and
    /// takes a new file (probed by creating and removing one), and `path` is not a directory.
    public static func checkWritable(_ path: String) throws(FileIOError) {
        let (directory, base) = split(path)
        var status = stat()
        guard stat(directory, &status) == 0 else { throw FileIOError(reason: "directory \(directory): \(systemError())") }
        guard (status.st_mode & S_IFMT) == S_IFDIR else { throw FileIOError(reason: "\(directory) is not a directory") }
        if stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR { throw FileIOError(reason: "is a directory") }
        var template = Array("\(directory)/.\(base).probe-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw FileIOError(reason: "cannot create a file in \(directory): \(systemError())") }
        close(fd)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    /// Whether `a` and `b` name the same existing file (same device and inode: symlinks,
    /// `dir/./x` spellings and hard links included).
    public static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files of writes in progress before
    /// the process dies of the signal. Called once by the command line.
    public static func removeTemporariesOnSignals() {
        PendingTemporaries.installHandlers()
    }

    static func split(_ path: String) -> (directory: String, base: String) {
        (ONNXImporter.directoryOf(path), path.split(separator: "/").last.map(String.init) ?? path)
    }

    /// Removes `.BASE.tmp-XXXXXX` files (six characters, as mkstemp makes them) in `directory`.
    static func removeLeftovers(directory: String, base: String) {
        let prefix = ".\(base).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) && name.utf8.count == prefix.utf8.count + 6 {
            let candidate = "\(directory)/\(name)"
            if !PendingTemporaries.contains(candidate) { unlink(candidate) }
        }
    }
}

/// Temporary files being written, in a fixed C table a signal handler can read without allocating.
private enum PendingTemporaries {
    static let slots = 16, slotSize = 4096
    nonisolated(unsafe) static let table: UnsafeMutablePointer<CChar> = {
        let table = UnsafeMutablePointer<CChar>.allocate(capacity: slots * slotSize)
        table.initialize(repeating: 0, count: slots * slotSize)
        return table
    }()
    static let lock = NSLock()

    static func add(_ path: String) {
        let bytes = Array(path.utf8CString)
        guard bytes.count <= slotSize else { return }
        lock.withLock {
            for slot in 0..<slots where table[slot * slotSize] == 0 {
                // The first byte last, so that a handler never sees half a path.
                let start = table + slot * slotSize
                for i in (0..<bytes.count).reversed() { start[i] = bytes[i] }
                return
            }
        }
    }

    static func remove(_ path: String) {
        lock.withLock {
            for slot in 0..<slots where String(cString: table + slot * slotSize) == path { table[slot * slotSize] = 0 }
        }
    }

    static func contains(_ path: String) -> Bool {
        lock.withLock { (0..<slots).contains { String(cString: table + $0 * slotSize) == path } }
    }

    static func installHandlers() {
        _ = table
        // A parent may have left these blocked (a blocked SIGTERM would wait until after the write).
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&unblock, signalNumber) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                for slot in 0..<PendingTemporaries.slots {
                    let start = PendingTemporaries.table + slot * PendingTemporaries.slotSize
                    if start[0] != 0 { unlink(start) }
                }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
