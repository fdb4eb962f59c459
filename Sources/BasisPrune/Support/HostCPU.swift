import Foundation

/// What this machine's CPU offers that a deployed model's runtime cares about: onnxruntime's
/// blocked (NCHWc) convolutions use blocks of 16 channels where AVX-512F is available and of 8
/// with AVX2 (MLAS), so a width that is a multiple of the block runs on the fast path.
public struct HostCPU: Sendable, Equatable {
    /// The instruction-set flags the block size depends on, as /proc/cpuinfo names them.
    public var flags: Set<String>

    public init(flags: Set<String>) { self.flags = flags }

    /// Reads the flags of the first processor in `cpuinfo` (Linux's /proc/cpuinfo text); none
    /// when it has no "flags" line (another OS or architecture).
    public init(cpuinfo: String) {
        let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }
        let fields = line.flatMap { $0.split(separator: ":", maxSplits: 1).last } ?? ""
        self.init(flags: Set(fields.split(separator: " ").map(String.init)))
    }

    /// This machine, from /proc/cpuinfo (no flags where that cannot be read).
    public static var current: HostCPU {
        HostCPU(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
    }

    /// The channel block onnxruntime's blocked convolutions use here: 16 with AVX-512F, else 8
    /// (AVX2, and a safe multiple where the runtime's block is not known).
    public var channelBlock: Int { flags.contains("avx512f") ? 16 : 8 }

    /// The instruction set that decided `channelBlock`, for reports.
    public var channelBlockReason: String {
        flags.contains("avx512f") ? "avx512f" : flags.contains("avx2") ? "avx2" : "no avx2 or avx512f flag"
    }
}
