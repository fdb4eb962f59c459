import BasisPrune
import Foundation
import TestSupport
import Testing

/// Tests of `Sources/BasisPrune/Data/` and `Training/SeededRandom.swift`; the nested suites live
/// in the other files of this folder. `swift test --filter DataTests` runs them all.
@Suite struct DataTests {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = Fixtures.temporaryDirectory("data")
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        let target = file(name)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
    }

    func makeDirectory(_ name: String) throws {
        try FileManager.default.createDirectory(atPath: file(name), withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `python3 -c script arguments...` and returns its standard output; fails on a non-zero exit.
func runPython(_ script: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "python3 failed: \(errorText)")
    return data
}

/// Checks that a data error's message is one line starting with `path` and containing `fragment`.
func expectMessage(_ error: DataError?, startsWith path: String, contains fragment: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error else {
        Issue.record("no DataError was thrown", sourceLocation: sourceLocation)
        return
    }
    let text = error.description
    #expect(text.hasPrefix(path + ":"), "\(text)", sourceLocation: sourceLocation)
    #expect(text.contains(fragment), "\(text)", sourceLocation: sourceLocation)
    #expect(!text.contains("\n"), "\(text)", sourceLocation: sourceLocation)
}

/// Big-endian bytes of an IDX header.
func idxHeader(magic: UInt32, _ sizes: [UInt32]) -> [UInt8] {
    ([magic] + sizes).flatMap { word in (0 ..< 4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
}
