import Foundation

/// The process's resident memory as Linux reports it (/proc/self/statm, /proc/self/status).
/// The kernel's own peak (`VmHWM`, what `/usr/bin/time -f %M` reports) is never reset; a
/// phase's peak comes from a sampler thread that reads the resident size every 50 ms while
/// phases are timed (`PhaseSampler`). Elsewhere (no /proc) every reading is nil.
public enum ResidentMemory {
    /// Bytes of a field of /proc/self/status given in kB (`VmRSS`, `VmHWM`).
    static func status(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let digits = line.dropFirst(field.count + 1).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }

    /// Resident bytes now (the second field of /proc/self/statm, in pages).
    public static func current() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The process's peak resident bytes since it started (`VmHWM`).
    public static func peak() -> Int? { status("VmHWM") }

    /// The machine's physical memory in bytes.
    public static var physical: Int { Int(ProcessInfo.processInfo.physicalMemory) }
}

/// Samples the resident size every 50 ms on a thread of its own (started on first use) and
/// keeps the highest reading since the last `take`.
final class PhaseSampler: @unchecked Sendable {
    static let shared = PhaseSampler()
    private let lock = NSLock()
    private var highest = 0

    private init() {
        let thread = Thread { [self] in
            while true {
                if let now = ResidentMemory.current() { note(now) }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        thread.name = "resident memory sampler"
        thread.start()
    }

    private func note(_ bytes: Int) {
        lock.lock()
        highest = max(highest, bytes)
        lock.unlock()
    }

    /// The highest resident size since the last call (or start), counting now; the next
    /// interval starts from now.
    func take() -> Int? {
        guard let now = ResidentMemory.current() else { return nil }
        lock.lock()
        defer { lock.unlock() }
        let result = max(highest, now)
        highest = now
        return result
    }
}

/// Times and peak resident memory of a job's phases, lap by lap: a lap ends the phase that
/// began at the previous lap (or at the start), and the memory peak starts again with the next.
public struct PhaseClock: Sendable {
    public struct Phase: Sendable, Codable, Equatable {
        public var name: String
        public var seconds: Double
        /// Peak resident bytes during the phase (nil where the system does not say).
        public var peakResidentBytes: Int?

        public init(name: String, seconds: Double, peakResidentBytes: Int? = nil) {
            self.name = name
            self.seconds = seconds
            self.peakResidentBytes = peakResidentBytes
        }

        enum CodingKeys: String, CodingKey {
            case name, seconds
            case peakResidentBytes = "peak_resident_bytes"
        }
    }

    public private(set) var phases: [Phase] = []
    var clock = Date()

    public init() {
        _ = PhaseSampler.shared.take()
    }

    /// Ends the current phase under `name`.
    public mutating func lap(_ name: String) {
        phases.append(Phase(name: name, seconds: Date().timeIntervalSince(clock), peakResidentBytes: PhaseSampler.shared.take()))
        clock = Date()
    }

    /// Phases a search timed with a clock of its own; this clock restarts after them.
    public mutating func add(_ timed: [Phase]) {
        phases += timed
        _ = PhaseSampler.shared.take()
        clock = Date()
    }

    /// A marker in the list (no time of its own).
    public mutating func note(_ name: String) {
        phases.append(Phase(name: name, seconds: 0))
    }
}
