import BasisPrune
import Foundation
import Testing

extension DataTests {
    /// Sets without labels, which only distillation trains on.
    @Suite struct Unlabeled {
        @Test func folderWithoutClassSubfoldersIsUnlabeled() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try Folder().writePNGs([(dir.file("b.png"), 5, 3, 1), (dir.file("a.png"), 5, 3, 1), (dir.file("c.PNG"), 5, 3, 3)])
            try dir.write("notes.txt", Array("not an image".utf8))
            let images = try DataSpec(parsing: "folder:\(dir.path)").load()
            #expect(images.count == 3 && !images.labelled)
            #expect(images.labels == [-1, -1, -1] && images.classCount == 0 && images.classNames == nil)
            #expect(images.channels == 3 && images.height == 3 && images.width == 5)
            // Name order, grey replicated: a.png's first pixel is 0, c.PNG's blue plane starts at 100.
            #expect(images.image(0).first == 0 && images.image(2)[images.image(2).startIndex + 2 * 15] == 100)
            let part = try DataSpec(parsing: "folder:\(dir.path),range=1:3").load()
            #expect(part.count == 2 && !part.labelled)
        }

        @Test func classSubfoldersWinOverLooseImages() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try Folder().writePNGs([(dir.file("loose.png"), 4, 4, 1), (dir.file("shirt/a.png"), 4, 4, 1)])
            let images = try DataSpec(parsing: "folder:\(dir.path)").load()
            #expect(images.count == 1 && images.labelled && images.labels == [0])
        }

        @Test func idxImagesWithoutLabelsFile() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try FileManager.default.copyItem(
                atPath: DataTests.fashionMNIST + "/t10k-images-idx3-ubyte.gz", toPath: dir.file("t10k-images-idx3-ubyte.gz"))
            let images = try DataSpec(parsing: "idx:\(dir.path),split=test,range=0:100").load()
            #expect(images.count == 100 && !images.labelled && images.labels.allSatisfy { $0 == -1 })
            // Same pixels as the labelled set (image 1's sum, checked in fashionMNISTTestSplit).
            #expect(images.image(1).reduce(0) { $0 + Int($1) } == 100_994)
        }
    }
}
