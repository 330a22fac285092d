#if canImport(Accelerate)
import Accelerate
#else
import COpenBLAS
#endif
import Foundation

/// Flash attention on the CPU path, tile by tile (`AttentionTiles`): no Lq×Lk buffer. The
/// tasks (blocks of rows or of keys of one head) run in parallel and each owns the rows
/// of the outputs it writes and sums into them in a fixed order, and the BLAS splits
/// fixed shapes the same way every run: results are bit-identical run to run.
extension Engine {
    /// Per (batch, query head, block of rows): over the blocks of keys in the rows' band,
    /// the scores, then softmax with the online normalizer (running max m and sum l, the
    /// O accumulator rescaled when m grows) or sigmoid, then O += P·V by sgemm. Softmax
    /// ends with O /= l and LSE = m + log l; a fully removed row keeps O = 0, LSE = −∞.
    func cpuAttentionForward(_ call: AttentionCall, output: Tensor, logSumExp: Tensor?) throws {
        let arena = ScratchArena(self)
        defer { arena.close() }
        let tiles = try AttentionTiles(call, arena: arena)
        defer { tiles.release() }
        let (d, rowBlocks) = (call.d, tiles.rowBlocks)
        let tasks = call.batch * call.heads * rowBlocks.count
        noteTaskScratch(arena, tiles: 1)
        try output.accumulateFloats(counting: arena) { o in
            try fillOptionalFloats(logSumExp, arena) { lse in
                let shared = UncheckedSendable((o, lse))
                concurrentTasks(tasks) { task in
                    let (o, lse) = shared.value
                    let (bh, rows) = task.quotientAndRemainder(dividingBy: rowBlocks.count)
                    let (b, h) = bh.quotientAndRemainder(dividingBy: call.heads)
                    let rowRange = rowBlocks[rows]
                    let first = bh * call.lq + rowRange.lowerBound
                    forwardBlock(tiles, b, h, rows: rowRange, o: o + first * d, lse: lse.map { $0 + first })
                }
            }
        }
    }

    /// dQ, dK, dV in two passes that recompute P tile by tile (softmax: P = e^(s − LSE);
    /// sigmoid: σ(s + bias)), with dP = dO·Vᵀ and dS = P∘(dP − Δ), Δ_i = Σ_d dO_id·O_id
    /// (softmax), or dS = dP·P·(1 − P) (sigmoid). The query pass (per head and block of
    /// rows) sums dQ = scale·dS·K; the key pass (per kv head and block of keys) sums
    /// dK = scale·dSᵀ·Q and dV = Pᵀ·dO over its group's query heads in head order and
    /// over the blocks of rows in order. Each output block has one owner: no atomics.
    func cpuAttentionBackward(_ call: AttentionCall, forward: AttentionOutput, gradient: Tensor,
                              into gradients: AttentionGradients) throws {
        let arena = ScratchArena(self)
        defer { arena.close() }
        let tiles = try AttentionTiles(call, arena: arena)
        defer { tiles.release() }
        let dO = try HostFloatCopy(gradient, arena)
        defer { dO.release() }
        let perRow = try BackwardRows(call, forward: forward, gradient: dO, arena: arena)
        let (d, rowBlocks, keyBlocks) = (call.d, tiles.rowBlocks, tiles.keyBlocks)
        noteTaskScratch(arena, tiles: 2)
        try gradients.query.accumulateFloats(counting: arena) { dq in
            try gradients.key.accumulateFloats(counting: arena) { dk in
                try gradients.value.accumulateFloats(counting: arena) { dv in
                    let shared = UncheckedSendable((dq, dk, dv))
                    concurrentTasks(call.batch * call.heads * rowBlocks.count) { task in
                        let (bh, block) = task.quotientAndRemainder(dividingBy: rowBlocks.count)
                        let (b, h) = bh.quotientAndRemainder(dividingBy: call.heads)
                        let range = rowBlocks[block]
                        queryGradientBlock(tiles, perRow, b, h, rows: range,
                                           dq: shared.value.0 + (bh * call.lq + range.lowerBound) * d)
                    }
                    concurrentTasks(call.batch * call.kvHeads * keyBlocks.count) { task in
                        let (bh, block) = task.quotientAndRemainder(dividingBy: keyBlocks.count)
                        let (b, kvh) = bh.quotientAndRemainder(dividingBy: call.kvHeads)
                        let range = keyBlocks[block]
                        let first = (bh * call.lk + range.lowerBound) * d
                        keyGradientBlock(tiles, perRow, b, kvh, keys: range, dk: shared.value.1 + first,
                                         dv: shared.value.2 + first)
                    }
                }
            }
        }
    }

    /// Counts the tiles each of the concurrent tasks holds.
    private func noteTaskScratch(_ arena: ScratchArena, tiles: Int) {
        let workers = ProcessInfo.processInfo.activeProcessorCount
        arena.note(bytes: workers * tiles * AttentionTiles.rowCount * AttentionTiles.keyCount * MemoryLayout<Float>.size)
    }
}

/// One block of rows of the forward: O rows at `o` (zeroed), their LSE at `lse`.
private func forwardBlock(_ tiles: AttentionTiles, _ b: Int, _ h: Int, rows: Range<Int>,
                          o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?) {
    let (call, d) = (tiles.call, tiles.call.d)
    let s = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * AttentionTiles.keyCount)
    defer { s.deallocate() }
    var running = [(max: Float, sum: Float)](repeating: (-.infinity, 0), count: rows.count)
    let values = tiles.v.pointer + tiles.keyHead(b, h)
    for keys in tiles.keyBlocks(rows: rows) {
        let n = keys.count
        tiles.scores(b, h, rows: rows, keys: keys, into: s)
        for r in 0 ..< rows.count {
            let p = s + r * n
            guard call.isSoftmax else {
                sigmoidRow(p, n, bias: call.sigmoidBias)
                continue
            }
            let (m, l) = running[r]
            let tileTop = rowMax(p, n)
            let top = tileTop.isNaN ? tileTop : max(m, tileTop)
            guard top != -.infinity else {  // nothing kept yet: P = 0, O stays 0 (NaN goes on)
                p.update(repeating: 0, count: n)
                continue
            }
            let sum = expRow(p, n, shift: top)
            let rescale = m == -.infinity ? 0 : sexp(m - top)
            if rescale != 1 {
                let row = o + r * d
                for c in 0 ..< d { row[c] *= rescale }
            }
            running[r] = (top, l * rescale + sum)
        }
        tileGemm(m: rows.count, n: d, k: n, 1, s, n, values + keys.lowerBound * d, d, 1, o, d)
    }
    guard call.isSoftmax, let lse else { return }
    for (r, (m, l)) in running.enumerated() {
        let row = o + r * d
        if m == -.infinity {
            lse[r] = -.infinity
            continue
        }
        for c in 0 ..< d { row[c] /= l }
        lse[r] = m + log(l)
    }
}

/// What the backward knows per query row: dO (dense fp32), and for softmax the
/// forward's LSE and Δ_i = Σ_d dO_id·O_id (of O as stored).
private struct BackwardRows {
    let dO: HostFloatCopy
    let logSumExp: [Float]
    let delta: [Float]

    init(_ call: AttentionCall, forward: AttentionOutput, gradient dO: HostFloatCopy, arena: ScratchArena) throws {
        self.dO = dO
        guard call.isSoftmax, let lse = forward.logSumExp else {
            (logSumExp, delta) = ([], [])
            return
        }
        logSumExp = try lse.floatElements()
        let output = try HostFloatCopy(forward.output, arena)
        defer { output.release() }
        let (d, o, g) = (call.d, output.pointer, dO.pointer)
        delta = (0 ..< logSumExp.count).map { i in
            var sum: Float = 0
            for c in 0 ..< d { sum += g[i * d + c] * o[i * d + c] }
            return sum
        }
        arena.note(bytes: 2 * logSumExp.count * MemoryLayout<Float>.size)
    }
}

/// P of rows × keys into `p` and dS into `ds` (row-major, keys.count per row).
private func gradientTile(_ tiles: AttentionTiles, _ rowData: BackwardRows, _ b: Int, _ h: Int, rows: Range<Int>,
                          keys: Range<Int>, p: UnsafeMutablePointer<Float>, ds: UnsafeMutablePointer<Float>) {
    let (call, d, n) = (tiles.call, tiles.call.d, keys.count)
    let first = (b * call.heads + h) * call.lq + rows.lowerBound
    tiles.scores(b, h, rows: rows, keys: keys, into: p)
    // dP = dO·Vᵀ
    tileGemm(m: rows.count, n: n, k: d, 1, rowData.dO.pointer + first * d, d,
             tiles.v.pointer + tiles.keyHead(b, h) + keys.lowerBound * d, d, transposeB: true, 0, ds, n)
    for r in 0 ..< rows.count {
        let (pr, dsr) = (p + r * n, ds + r * n)
        if call.isSoftmax {
            let lse = rowData.logSumExp[first + r]
            guard lse != -.infinity else {  // a fully removed row: no gradient (a NaN row stays NaN)
                pr.update(repeating: 0, count: n)
                dsr.update(repeating: 0, count: n)
                continue
            }
            _ = expRow(pr, n, shift: lse)
            let delta = rowData.delta[first + r]
            for j in 0 ..< n { dsr[j] = pr[j] * (dsr[j] - delta) }
        } else {
            sigmoidRow(pr, n, bias: call.sigmoidBias)
            for j in 0 ..< n { dsr[j] = dsr[j] * pr[j] * (1 - pr[j]) }
        }
    }
}

/// dQ of one block of rows of head (b, h) at `dq` (zeroed): Σ over its key blocks of scale·dS·K.
private func queryGradientBlock(_ tiles: AttentionTiles, _ rowData: BackwardRows, _ b: Int, _ h: Int,
                                rows: Range<Int>, dq: UnsafeMutablePointer<Float>) {
    let d = tiles.call.d
    let (p, ds) = allocateTiles()
    defer { p.deallocate(); ds.deallocate() }
    for keys in tiles.keyBlocks(rows: rows) {
        gradientTile(tiles, rowData, b, h, rows: rows, keys: keys, p: p, ds: ds)
        tileGemm(m: rows.count, n: d, k: keys.count, tiles.call.scale, ds, keys.count,
                 tiles.k.pointer + tiles.keyHead(b, h) + keys.lowerBound * d, d, 1, dq, d)
    }
}

/// dK and dV of one block of keys of kv head (b, kvh) at `dk`, `dv` (zeroed): Σ over the
/// group's query heads, then their blocks of rows, of scale·dSᵀ·Q and Pᵀ·dO.
private func keyGradientBlock(_ tiles: AttentionTiles, _ rowData: BackwardRows, _ b: Int, _ kvh: Int,
                              keys: Range<Int>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
    let (call, d, n) = (tiles.call, tiles.call.d, keys.count)
    let (p, ds) = allocateTiles()
    defer { p.deallocate(); ds.deallocate() }
    for h in kvh * call.headsPerKV ..< (kvh + 1) * call.headsPerKV {
        for rows in tiles.rowBlocks(keys: keys) {
            gradientTile(tiles, rowData, b, h, rows: rows, keys: keys, p: p, ds: ds)
            let first = tiles.queryHead(b, h) + rows.lowerBound * d
            let m = rows.count
            tileGemm(m: n, n: d, k: m, 1, p, n, transposeA: true, rowData.dO.pointer + first, d, 1, dv, d)
            tileGemm(m: n, n: d, k: m, call.scale, ds, n, transposeA: true, tiles.q.pointer + first, d, 1, dk, d)
        }
    }
}

private func allocateTiles() -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
    let count = AttentionTiles.rowCount * AttentionTiles.keyCount
    return (.allocate(capacity: count), .allocate(capacity: count))
}

/// `Tensor.accumulateFloats` of an optional tensor (nil: `body(nil)`).
private func fillOptionalFloats(_ tensor: Tensor?, _ arena: ScratchArena,
                                _ body: (UnsafeMutablePointer<Float>?) throws -> Void) throws {
    guard let tensor else { return try body(nil) }
    try tensor.accumulateFloats(counting: arena) { try body($0) }
}

/// Runs body(task) for every task on all cores; the tasks own disjoint outputs, so the
/// results do not depend on which thread ran which task.
private func concurrentTasks(_ count: Int, _ body: (Int) -> Void) {
    guard count > 1 else {
        if count == 1 { body(0) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { shared.value($0) }
    }
}
