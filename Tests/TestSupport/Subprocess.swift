import Foundation

/// The result of running a program to completion.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` with `arguments`, feeding `stdin`, and waits.
public func run(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // Read both pipes concurrently so that a full pipe cannot block the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs a Python judge script from Tests/TestSupport/python with `arguments`; returns its stdout
/// parsed as JSON. The judges use the onnx checker and onnxruntime, independent of our code.
public func runJudge(_ script: String, _ arguments: [String], stdin: String? = nil) throws -> Any {
    let path = Fixtures.repositoryRoot + "/Tests/TestSupport/python/" + script
    let result = try run("/usr/bin/env", ["python3", path] + arguments, stdin: stdin)
    guard result.status == 0 else {
        throw JudgeError(message: "\(script) exited \(result.status): \(result.stderr.suffix(2000))")
    }
    return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
}

public struct JudgeError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
