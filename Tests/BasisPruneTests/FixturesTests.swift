import Foundation
import TestSupport
import Testing

/// Everything `make test` reads is in the repository: a clone with no `../shared` beside it passes.
@Suite struct FixturesTests {
    @Test(arguments: ["fmnistModel", "imagenetModel"])
    func modelIsCheckedInWithItsProvenance(_ name: String) throws {
        let path = name == "fmnistModel" ? Fixtures.fmnistModel : Fixtures.imagenetModel
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        #expect(resolved.hasPrefix(Fixtures.repositoryRoot + "/fixtures/"), "\(name) is read from \(resolved)")
        let hash = try run("/usr/bin/sha256sum", [path])
        #expect(hash.status == 0, "\(hash.stderr)")
        let digest = String(hash.stdout.prefix(64))
        let provenance = try String(contentsOfFile: Fixtures.repositoryRoot + "/fixtures/PROVENANCE.md", encoding: .utf8)
        let file = URL(fileURLWithPath: path).lastPathComponent
        #expect(provenance.contains("## \(file)"), "PROVENANCE.md has no section for \(file)")
        #expect(provenance.contains("SHA-256 `\(digest)`"), "PROVENANCE.md does not record \(file)'s SHA-256 \(digest)")
    }

    /// No test source builds a path into `../shared` (the material the fresh clone does not have).
    @Test func noTestReadsTheSharedFolder() throws {
        let root = Fixtures.repositoryRoot + "/Tests"
        let files = try #require(FileManager.default.subpathsOfDirectory(atPath: root) as [String]?)
        var offenders: [String] = []
        for file in files where (file.hasSuffix(".swift") || file.hasSuffix(".py")) && !file.hasSuffix("FixturesTests.swift") {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            if text.contains("\"../shared") || text.contains("\"shared/models") || text.contains("\"../../shared") { offenders.append(file) }
        }
        #expect(offenders.isEmpty, "tests reading ../shared: \(offenders)")
    }
}
