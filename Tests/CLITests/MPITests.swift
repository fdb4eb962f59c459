import BasisPrune
import Foundation
import TestSupport
import Testing

/// The main job under Open MPI's `mpirun`: the same bytes for any number of ranks, and a rank
/// that dies or cannot load its data ends the whole job with nothing written.
@Suite(.serialized) struct MPITests {
    static let data = "idx:\(Fixtures.fashionMNIST)"
    static let mpirun = "/usr/bin/mpirun"
    /// CI runs as root, which Open MPI refuses without this flag; --oversubscribe lets 2 ranks
    /// share however many cores the machine has; -q drops mpirun's own banners.
    static let launcher = ["--allow-run-as-root", "--oversubscribe", "-q"]

    /// The reduced CI run of `PruneTests`, with one compute thread per process (results depend
    /// on the thread count in the last bits; the ranks must not); `small` (for the byte
    /// comparison, three runs) on a fifth of its images.
    static func reducedRun(_ out: String, report: String, small: Bool = false) -> [String] {
        [Fixtures.bundledModel, out, "--data", "\(data),range=0:\(small ? 2000 : 10000)",
         "--val-data", "\(data),split=test,range=0:\(small ? 2000 : 3000)", "--test-data", "\(data),split=test,range=5000:\(small ? 6000 : 10000)",
         "--retrain-images", small ? "600" : "3000", "--lr", "0.001", "--report", report, "--quiet", "--method", "basis", "--threads", "1"]
    }

    static func report(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func oneAndTwoRanksWriteTheBytesOfARunWithoutMPI() throws {
        let directory = Fixtures.temporaryDirectory("mpi")
        var outputs: [String: Data] = [:]
        for (name, launch) in [("alone", [String]()), ("n1", [Self.mpirun] + Self.launcher + ["-n", "1"]),
                               ("n2", [Self.mpirun] + Self.launcher + ["-n", "2"])] {
            let out = directory + "/\(name).onnx", reportPath = directory + "/\(name).json"
            let command = launch + [Fixtures.executable] + Self.reducedRun(out, report: reportPath, small: true)
            let result = try run(command[0], Array(command.dropFirst()))
            #expect(result.status == 0, "\(name): exit \(result.status): \(result.stderr)")
            // Rank 0 alone prints the summary.
            #expect(result.stdout.components(separatedBy: "model totals").count == 2, "\(name): \(result.stdout)")
            outputs[name] = try Data(contentsOf: URL(fileURLWithPath: out))
            let report = try Self.report(reportPath)
            #expect(report["ranks"] as? Int == (name == "n2" ? 2 : 1))
            #expect(report["threads"] as? Int == 1 && report["micro_batch"] as? Int == 64)
            #expect(try schemaError("prune", document: reportPath) == nil)
            if name == "n2" {
                // Rank 0 sent its micro-batches' gradients and its evaluation batches' results:
                // at least one exchange per batch of each round's retrain (600 images in batches
                // of 128: 5) and of each round's validation.
                let exchanges = try #require(report["exchanges"] as? Int), bytes = try #require(report["bytes_sent"] as? Int)
                let rounds = try #require(report["history"] as? [Any]).count - 1
                print("2 ranks: \(exchanges) exchanges over \(rounds) rounds, rank 0 sent \(bytes) bytes")
                #expect(rounds >= 2 && exchanges >= 6 * rounds && bytes > 100_000)
            }
        }
        #expect(outputs["alone"]!.count > 100_000)
        #expect(outputs["n1"] == outputs["alone"])
        #expect(outputs["n2"] == outputs["alone"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
                == ["alone.json", "alone.onnx", "n1.json", "n1.onnx", "n2.json", "n2.onnx"])
    }

    /// Rank 1 killed mid-run: mpirun ends rank 0 and exits non-zero within 30 s, and OUT, the
    /// report and no temporary file are left.
    @Test func killingOneRankEndsTheJobWithNothingWritten() throws {
        let directory = Fixtures.temporaryDirectory("mpi-kill")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.mpirun)
        process.arguments = Self.launcher + ["-n", "2", Fixtures.executable]
            + Self.reducedRun(directory + "/out.onnx", report: directory + "/report.json")
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Rank 1 is the process of our executable whose environment says so.
        var victim: Int32?
        let deadline = Date().addingTimeInterval(60)
        while victim == nil && process.isRunning && Date() < deadline {
            victim = Self.rankProcess(1)
            usleep(100_000)
        }
        let pid = try #require(victim, "rank 1 never started")
        // Well into the job (the reduced run takes half a minute or more on 2 ranks).
        sleep(8)
        #expect(process.isRunning, "the job ended before rank 1 could be killed")
        let killed = Date()
        kill(pid, SIGKILL)
        while process.isRunning && Date().timeIntervalSince(killed) < 60 { usleep(50_000) }
        let seconds = Date().timeIntervalSince(killed)
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        print(String(format: "rank 1 killed: mpirun exited %d after %.1f s", process.terminationStatus, seconds))
        #expect(seconds < 30)
        #expect(process.terminationStatus != 0)
        #expect(Self.rankProcess(0) == nil, "rank 0 outlived the job")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
    }

    /// Rank 1 is given data that does not exist (as on a host that lacks the files): exit 1,
    /// one line from rank 1 naming the data, nothing written.
    @Test func dataThatFailsOnOneRankEndsTheJob() throws {
        let directory = Fixtures.temporaryDirectory("mpi-data")
        let common = [Fixtures.bundledModel, directory + "/out.onnx", "--val-data", "\(Self.data),split=test,range=0:500",
                      "--report", directory + "/report.json", "--threads", "1", "--quiet"]
        let missing = directory + "/no-such-data"
        let result = try run(Self.mpirun, Self.launcher + ["-n", "1", Fixtures.executable] + common + ["--data", "\(Self.data),range=0:1000"]
                             + [":", "-n", "1", Fixtures.executable] + common + ["--data", "idx:\(missing)"])
        #expect(result.status == 1, "exit \(result.status): \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("onnx-basisprune: rank 1 of 2: \(missing)"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
    }

    /// `eval` shares its batches the same way: the same counts and loss as without mpirun.
    @Test func evalOnTwoRanksMatchesOneProcess() throws {
        let args = ["eval", Fixtures.bundledModel, "--data", "\(Self.data),split=test,range=0:1000", "--batch-size", "128",
                    "--json", "--quiet", "--threads", "1"]
        let alone = try run(Fixtures.executable, args)
        let shared = try run(Self.mpirun, Self.launcher + ["-n", "2", Fixtures.executable] + args)
        #expect(alone.status == 0 && shared.status == 0, "\(alone.stderr) \(shared.stderr)")
        func fields(_ json: String) throws -> [String] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return ["accuracy", "loss", "count", "correct"].map { "\(object[$0] ?? "missing")" }
        }
        #expect(try fields(shared.stdout) == fields(alone.stdout))
        #expect(try fields(alone.stdout)[2] == "1000")
    }

    /// The pid of our executable's process of rank `rank` under mpirun, if one is running.
    static func rankProcess(_ rank: Int) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = Int32(entry),
                  let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: command, as: UTF8.self).hasPrefix(Fixtures.executable),
                  let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
