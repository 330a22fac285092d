// gemm_cpu.h — the CPU half of lib/gemm.h (GEMM_WG == 1: one work-item per
// group and per core thread, no cooperation). Included by gemm.h only; the
// code moved here unchanged from gemm.h (its speed is the CPU preset's).
// * tiles are __private (a per-item packing buffer, not bound by the
//   device's __local size: Oclgrind has 32 KiB);
// * gemm_load_tile copies 16-wide vectors and transposes 16x16 blocks in
//   registers (gemm_transpose16);
// * gemm_kloop: an item sweeps MR x NR micro-tiles (gemm_mk_ab_at) over its
//   large MWG x NWG tile, its partial sums kept in res between k-blocks.
#ifndef FK_GEMM_CPU_H
#define FK_GEMM_CPU_H
#if GEMM_WG != 1
#error "gemm_cpu.h: the one-item half (include lib/gemm.h)"
#endif

// ---------------------------------------------------------------------------
// 16x16 transpose in registers: v[q] lane c -> v[c] lane q. Eklundh's
// recursion: at level w, rows i and i+w (bit w of i clear) swap their
// off-diagonal w-blocks; one shuffle2 per output row and level, 64 in all
// (vpermt2ps on AVX-512), instead of 256 scalar moves.
// ---------------------------------------------------------------------------
#define GEMM_T16_LEVEL(v, w, LO, HI) do {                                     \
    _Pragma("unroll") for (int i_ = 0; i_ < 16; ++i_) {                       \
        if ((i_ & (w)) == 0) {                                                \
            const float16 x_ = v[i_], y_ = v[i_ + (w)];                       \
            v[i_] = shuffle2(x_, y_, (uint16)LO);                             \
            v[i_ + (w)] = shuffle2(x_, y_, (uint16)HI);                       \
        }                                                                     \
    } } while (0)

FK_INLINE void gemm_transpose16(float16 *v)
{
    GEMM_T16_LEVEL(v, 1, (0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
                         (1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31));
    GEMM_T16_LEVEL(v, 2, (0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
                         (2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31));
    GEMM_T16_LEVEL(v, 4, (0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
                         (4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31));
    GEMM_T16_LEVEL(v, 8, (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                         (8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
}

// ---------------------------------------------------------------------------
// gemm_load_tile: see gemm.h. R, C, ld multiples of 16, dst 64-byte aligned.
// ---------------------------------------------------------------------------
// scalar fill of the block [r0, r0 + 16) x [c0, c0 + 16)
FK_INLINE void gemm_ld_block1(GEMM_TS float *dst, int ld, __global const fk_store_t *src,
                              long s_r, long s_c, int r0, int c0, int rv, int cv)
{
    for (int r = r0; r < r0 + 16; ++r)
        for (int c = c0; c < c0 + 16; ++c) dst[r * ld + c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
}

FK_INLINE void gemm_load_tile(GEMM_TS float *dst, int ld, int R, int C,
                              __global const fk_store_t *src, long s_r, long s_c,
                              int rv, int cv)
{
    if (s_c == 1) {
        // rows contiguous in the source: 16-wide copies, scalar edges
        const int cv16 = cv & ~15;
        for (int r = 0; r < R; ++r) {
            GEMM_TS float *d = dst + r * ld;
            __global const fk_store_t *s = src + r * s_r;
            const int full = (r < rv) ? cv16 : 0;
            for (int c = 0; c < full; c += 16) *(GEMM_TS float16 *)(d + c) = FK_SLOAD16(s + c);
            for (int c = full; c < C; ++c) d[c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
        }
    } else if (s_r == 1) {
        // columns contiguous (a transposed operand): read 16 source columns
        // of 16 contiguous elements, transpose in registers, write 16 rows
        for (int c0 = 0; c0 < C; c0 += 16) {
            for (int r0 = 0; r0 < R; r0 += 16) {
                if (r0 + 16 <= rv && c0 + 16 <= cv) {
                    float16 v[16];
                    #pragma unroll
                    for (int q = 0; q < 16; ++q) v[q] = FK_SLOAD16(src + r0 + (c0 + q) * s_c);
                    gemm_transpose16(v);
                    #pragma unroll
                    for (int q = 0; q < 16; ++q) *(GEMM_TS float16 *)(dst + (r0 + q) * ld + c0) = v[q];
                } else {
                    gemm_ld_block1(dst, ld, src, s_r, s_c, r0, c0, rv, cv);
                }
            }
        }
    } else {
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) dst[r * ld + c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
    }
}
// ---------------------------------------------------------------------------
// gemm_kloop, the GEMM core: the group's tile of sum_{p<k} A(i, p)*B(p, j),
// A(i, p) = a[i*a_rs + p*a_cs] for rows i < mv, B(p, j) = b[p*b_rs + j*b_cs]
// for columns j < nv (any strides), into each item's res. Only the
// micro-tiles that gemm_nir / gemm_njr count are set (read no others); their
// entries past mv, nv are zero products.
// Per k-block of KWG: the A and B blocks are copied (transposed if needed)
// into the tiles at [KWG][MWG] and bt [KWG][NWG] (64-byte aligned), then
// every micro-tile runs gemm_mk_ab. One micro-tile per item keeps its sums
// in registers over all k-blocks; a swept per-item tile (the CPU preset)
// keeps them in res between k-blocks (read and written once per KWG steps).
// k-blocks that skip marks as zeros are skipped (no loads, no products);
// with none live the last one runs empty (nk 0), so res is still set.
// Every item of the group calls it (barriers).
// ---------------------------------------------------------------------------
FK_INLINE void gemm_kloop(gemm_vec_t *res, GEMM_TS float *at, GEMM_TS float *bt,
                          __global const fk_store_t *a, long a_rs, long a_cs,
                          __global const fk_store_t *b, long b_rs, long b_cs,
                          int mv, int nv, int k, const gemm_skip_t *skip)
{
    const int ty = (int)get_local_id(1), tx = (int)get_local_id(0);
    const int nir = gemm_nir(mv), njr = gemm_njr(nv);
    const int nkb = max(1, (k + KWG - 1) / KWG);
    // the live k-blocks lie in [kb0, kb1]
    int kb0 = 0, kb1 = nkb - 1;
    while (kb0 < nkb - 1 && !gemm_live(skip, mv, kb0, k)) ++kb0;
    while (kb1 > kb0 && !gemm_live(skip, mv, kb1, k)) --kb1;
#if !GEMM_SWEEP
    gemm_acc_zero(res);
#endif
    for (int kb = kb0; kb <= kb1; ++kb) {
        const int live = gemm_live(skip, mv, kb, k);
        if (!live && kb < kb1) continue;   // a block of zeros adds nothing
        const int p0 = kb * KWG;
        const int nk = live ? clamp(k - p0, 0, KWG) : 0;
        const int kc = (nk + GEMM_KSTEP - 1) / GEMM_KSTEP * GEMM_KSTEP;
        GEMM_BARRIER();   // the previous block's tiles (or the caller's) are consumed
        gemm_load_tile(at, MWG, kc, MWG, a + p0 * a_cs, a_cs, a_rs, nk, mv);
        gemm_load_tile(bt, NWG, kc, NWG, b + p0 * b_rs, b_rs, b_cs, nk, nv);
        GEMM_BARRIER();
        for (int jr = 0; jr < njr; ++jr) {
            for (int ir = 0; ir < nir; ++ir) {
                GEMM_TS const float *am = at + ir * MR * MDIMC + ty;
                GEMM_TS const gemm_vec_t *bm = (GEMM_TS const gemm_vec_t *)bt + jr * NRV * NDIMC + tx;
#if GEMM_SWEEP
                gemm_mk_ab_at(res + ir * MR * GEMM_LDR + jr * NRV, GEMM_LDR, kb == kb0,
                              am, MWG, MDIMC, bm, NWG / VWN, NDIMC, kc);
#else
                gemm_mk_ab(res, am, MWG, MDIMC, bm, NWG / VWN, NDIMC, kc);
#endif
            }
        }
    }
}

// ---------------------------------------------------------------------------
// gemm_tile: z[i*NWG + j] = sum_{p<k} A(i, p)*B(p, j) for i < mv, j < nv
// (gemm_kloop's operands), the product tile of one group, left in GEMM_TS
// memory for an epilogue (entries outside the set micro-tiles are
// unspecified: never read them). z: [MWG][NWG], 64-byte aligned; complete
// for every item on return.
// ---------------------------------------------------------------------------
FK_INLINE void gemm_tile(GEMM_TS float *z, GEMM_TS float *at, GEMM_TS float *bt,
                         __global const fk_store_t *a, long a_rs, long a_cs,
                         __global const fk_store_t *b, long b_rs, long b_cs, int mv, int nv, int k)
{
    const gemm_skip_t none = { 0, 0, 0, 0, 0, 0 };
#if GEMM_WG == 1 && GEMM_SWEEP
    // the one item's results, laid out as the tile: z itself holds them
    gemm_kloop((gemm_vec_t *)z, at, bt, a, a_rs, a_cs, b, b_rs, b_cs, mv, nv, k, &none);
#else
    gemm_vec_t res[GEMM_ITEM_N];
    gemm_kloop(res, at, bt, a, a_rs, a_cs, b, b_rs, b_cs, mv, nv, k, &none);
    // each set micro-tile to its interleaved place (row q*MDIMC + ty, vector
    // u*NDIMC + tx); constant loop bounds let a GPU keep res in registers
    const int ty = (int)get_local_id(1), tx = (int)get_local_id(0);
    const int nir = gemm_nir(mv), njr = gemm_njr(nv);
    GEMM_TS gemm_vec_t *zv = (GEMM_TS gemm_vec_t *)z;
    for (int ir = 0; ir < MWI / MR; ++ir)
        for (int jr = 0; jr < NWI / NR; ++jr) {
            if (ir >= nir || jr >= njr) continue;
            #pragma unroll
            for (int r = 0; r < MR; ++r) {
                const int q = ir * MR + r;
                #pragma unroll
                for (int v = 0; v < NRV; ++v) {
                    const int u = jr * NRV + v;
                    zv[(q * MDIMC + ty) * (NWG / VWN) + u * NDIMC + tx] = res[q * GEMM_LDR + u];
                }
            }
        }
#endif
    GEMM_BARRIER();
}

#endif // FK_GEMM_CPU_H
