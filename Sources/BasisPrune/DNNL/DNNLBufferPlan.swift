internal import CDNNL

extension DNNLForward {
    /// The activation buffers of a forward plan (`build`): every value defined is given a slot,
    /// and a slot is reused once the values in it have no reader left, so peak memory is the
    /// widest point of the graph. The slots get their buffers once all sizes are known.
    final class BufferPlan {
        /// Readers left per value (graph outputs are never released).
        var readers: [String: Int] = [:]
        /// In training, the values a backward step reads keep their buffers: a Mul's operands
        /// an activation's input and output, and the input of a Transpose (LayerNormalization
        /// over channels reads it). The rest are reused as in inference.
        let keptForBackward: Set<String>
        /// Bytes per slot.
        var slotBytes: [Int] = []
        /// Values living in each slot.
        var slotHolders: [Int] = []
        var freeSlots: [Int] = []
        /// Per converted copy or view of a value (`Lowering.inLayout`), that value.
        var convertedFrom: [String: String] = [:]
        /// Memories are bound to their slot's buffer once all sizes are known.
        var bindings: [(memory: dnnl_memory_t, slot: Int)] = []

        init(_ graph: Graph, training: Bool) {
            for node in graph.nodes { for input in node.inputs where !input.isEmpty { readers[input, default: 0] += 1 } }
            for output in graph.outputs { readers[output.name, default: 1 << 30] += 1 << 30 }
            var keptForBackward = Set<String>()
            for node in graph.nodes where training {
                if node.opType == "Mul" || node.opType == "Transpose" { keptForBackward.formUnion(node.inputs) }
                if ["Relu", "Clip", "Sigmoid", "HardSwish"].contains(node.opType) { keptForBackward.formUnion(node.inputs.prefix(1) + node.outputs) }
            }
            self.keptForBackward = keptForBackward
        }

        /// A free slot of at least `bytes` (the smallest such), else the largest free one grown
        /// to `bytes`, else a new one.
        func slot(bytes: Int) -> Int {
            if let best = freeSlots.enumerated().filter({ slotBytes[$0.element] >= bytes }).min(by: { slotBytes[$0.element] < slotBytes[$1.element] }) {
                freeSlots.remove(at: best.offset)
                slotHolders[best.element] = 0
                return best.element
            }
            if let largest = freeSlots.enumerated().max(by: { slotBytes[$0.element] < slotBytes[$1.element] }) {
                freeSlots.remove(at: largest.offset)
                slotBytes[largest.element] = bytes
                slotHolders[largest.element] = 0
                return largest.element
            }
            slotBytes.append(bytes)
            slotHolders.append(0)
            return slotBytes.count - 1
        }

        /// A slot that is never freed nor bound, for a memory over a buffer of its own (the
        /// graph input, constant operands).
        func pinnedSlot() -> Int {
            slotBytes.append(0)
            slotHolders.append(1 << 30)
            return slotBytes.count - 1
        }

        /// One more value lives in `slot`.
        func hold(_ slot: Int) {
            slotHolders[slot] += 1
        }

        /// `name` was made from `source` (a converted copy or view) and is read once.
        func converted(_ name: String, from source: String) {
            readers[name] = 1
            convertedFrom[name] = source
        }

        /// One read of each of `names` (a converted copy counts for its source too).
        func read(_ names: [String], tensors: [String: Tensor]) {
            for name in names {
                read(name, tensors: tensors)
                if let source = convertedFrom[name] { read(source, tensors: tensors) }
            }
        }

        private func read(_ name: String, tensors: [String: Tensor]) {
            if keptForBackward.contains(name) || convertedFrom[name].map(keptForBackward.contains) == true { return }
            readers[name, default: 0] -= 1
            if readers[name]! <= 0, let t = tensors[name] {
                slotHolders[t.slot] -= 1
                if slotHolders[t.slot] == 0 { freeSlots.append(t.slot) }
            }
        }
    }
}
