import BasisPrune
import TestSupport
import Testing

@Suite struct GraphSummaryTests {
    @Test func fmnistTotalsMatchTheOnnxPackage() throws {
        let summary = try GraphSummary(model: ONNXImporter.load(path: Fixtures.fmnistModel))
        let judged = try runJudge("initializer_count.py", [Fixtures.fmnistModel]) as! [String: Int]
        #expect(summary.totalParameters == judged["total"])
        #expect(summary.initializerCount == judged["initializers"])
        // shared/models/README.md: 3,362,810 parameters and 7,847,648 MACs per image in Conv and Gemm.
        #expect(summary.layerParameters == 3_362_810)
        #expect(summary.layerMACs == 7_847_648)
        #expect(summary.layers.count == 50)
        #expect(summary.opsWithoutShapes.isEmpty)
    }

    /// MACs worked out by hand from the architecture at a 32x32 input.
    @Test func layerMACsByHand() throws {
        let summary = try GraphSummary(model: ONNXImporter.load(path: Fixtures.fmnistModel))
        let byName = Dictionary(uniqueKeysWithValues: summary.layers.map { ($0.name, $0) })
        // Stem: 3x3 stride 2 conv, 3 -> 32 channels, TF-SAME padding: 32x32 -> 16x16.
        // 32 outputs * 16*16 positions * (3 in * 3*3) = 221,184.
        let stem = try #require(byName["/_conv_stem/Conv"])
        #expect(stem.outputShape == [1, 32, 16, 16])
        #expect(stem.macs == 32 * 16 * 16 * 3 * 9)
        // Block 0 depthwise 3x3 stride 1 on 32x16x16: one input channel per output, 32*256*9 = 73,728.
        let depthwise = try #require(byName["/_blocks.0/_depthwise_conv/Conv"])
        #expect(depthwise.groups == 32)
        #expect(depthwise.macs == 32 * 16 * 16 * 9)
        // Block 5 depthwise 3x3 stride 2 on 240x4x4 -> 240x2x2: 240*4*9 = 8,640.
        let strided = try #require(byName["/_blocks.5/_depthwise_conv/Conv"])
        #expect(strided.outputShape == [1, 240, 2, 2])
        #expect(strided.macs == 240 * 2 * 2 * 9)
        // Gemm head: 1280 -> 10, 12,800 MACs per image; 12,810 parameters with the bias.
        let head = try #require(byName["/_fc/Gemm"])
        #expect(head.macs == 1280 * 10)
        #expect(head.parameters == 1280 * 10 + 10)
    }

    @Test func inputShapeFillsTheBatch() throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        let one = try GraphSummary(model: model)
        let eight = try GraphSummary(model: model, inputShapes: ["input": [8, 3, 32, 32]])
        #expect(eight.layerMACs == one.layerMACs.map { $0 * 8 })
        #expect(eight.inputShapes["input"] == [8, 3, 32, 32])
    }

    @Test func imagenetModelAt224() throws {
        let summary = try GraphSummary(model: ONNXImporter.load(path: Fixtures.imagenetModel))
        #expect(summary.layers.count == 50)
        let stem = try #require(summary.layers.first)
        #expect(stem.outputShape == [1, 32, 112, 112])
        #expect(summary.layers.last?.macs == 1280 * 1000)
    }
}
