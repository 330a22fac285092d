// gemm.h — tile library for register-blocked matrix products (OpenCL C 1.2):
// the core of matmul, and of the cut cross-entropy and flash-attention
// kernels, which reuse its tiles, loaders and micro-kernels.
//
// * Parameters (-D, CLBlast-style; matmul.cl documents them with the
//   presets): MWG, NWG, KWG, MDIMC, NDIMC, VWN, MR, NR. Derived here: MWI,
//   NWI (per-item tile), NRV (vectors per micro-tile row), GEMM_WG (items
//   per group), GEMM_TS (address space of the tiles).
// * gemm_vec_t: float vector of VWN lanes, the unit of the register tile.
// * gemm_load_tile: one global -> tile copy, any strides, zero-filled
//   outside the matrix. Transposition happens here, so every operand layout
//   reaches the same inner loop (BLAS-style packing).
// * gemm_mk_ab / gemm_mk_abt: register-blocked micro-kernels, acc += A·B
//   with B tiled [k][n], or A·Bᵀ with B tiled [n][k].
// * gemm_kloop: the k-loop, written once: a group's MWG x NWG product over
//   k-blocks of KWG into each item's results (registers, or a private tile
//   when an item sweeps several micro-tiles), with an optional block-skip
//   mask on A (gemm_skip_t). matmul.cl is gemm_kloop + gemm_store.
// * gemm_store: an item's results to global memory, scaled (alpha, a factor
//   per row), optionally + beta·out, rounded once (matmul's C, attention's
//   O, dQ, dK, dV).
// * gemm_tile: gemm_kloop's product left whole in a z tile, for kernels
//   that work on the tile instead of storing it (attention's scores, cut
//   cross-entropy's logits).
//
// Two shapes of the same code, chosen by the work-group size:
// * GEMM_WG == 1 (CPU devices: one work-item per core thread, no
//   cooperation): tiles are __private (a per-item packing buffer, not bound
//   by the device's __local size: Oclgrind has 32 KiB), loaders copy 16-wide
//   vectors and transpose 16x16 blocks in registers, and an item sweeps MR x
//   NR micro-tiles over its large MWG x NWG tile.
// * GEMM_WG > 1 (GPU devices): tiles are __local, loaded cooperatively by
//   all items with adjacent items on adjacent global addresses, between
//   barriers (GEMM_BARRIER); each item owns MWI x NWI results interleaved
//   with the other items' (rows ty + MDIMC*r, vector columns tx + NDIMC*v)
//   so that adjacent items read adjacent __local words.
//
// Tile layouts (row-major, leading dimension = the row length):
//   A tile [KWG][MWG]: element (i, p) at p*MWG + i
//   B tile [KWG][NWG]: element (p, j) at p*NWG + j
// An item's micro-tile (ir, jr) holds rows (ir*MR + r)*MDIMC + ty, r < MR,
// and the VWN-wide column groups (jr*NRV + v)*NDIMC + tx, v < NRV.
#ifndef FK_GEMM_H
#define FK_GEMM_H
#include "lib/common.h"
#include "lib/dtype.h"

#ifndef MWG
#define MWG 64
#endif
#ifndef NWG
#define NWG 64
#endif
#ifndef KWG
#define KWG 16
#endif
#ifndef MDIMC
#define MDIMC 16
#endif
#ifndef NDIMC
#define NDIMC 16
#endif
#ifndef VWN
#define VWN 1
#endif
#define MWI (MWG / MDIMC)
#define NWI (NWG / NDIMC)
#ifndef MR
#define MR MWI
#endif
#ifndef NR
#define NR NWI
#endif
#define NRV (NR / VWN)
#define GEMM_WG (MDIMC * NDIMC)

#if MWG % MDIMC || NWG % NDIMC || MWI % MR || NWI % NR || NR % VWN
#error "gemm.h: need MDIMC | MWG, NDIMC | NWG, MR | MWI, NR | NWI, VWN | NR"
#endif
#if VWN != 1 && VWN != 2 && VWN != 4 && VWN != 8 && VWN != 16
#error "gemm.h: VWN must be 1, 2, 4, 8 or 16"
#endif
#if GEMM_WG == 1 && (MWG % 16 || NWG % 16 || KWG % 16)
#error "gemm.h: one-item groups need MWG, NWG, KWG multiples of 16"
#endif

#if GEMM_WG == 1
#define GEMM_TS __private
#define GEMM_BARRIER() ((void)0)
// rows of the k-loop are processed in multiples of 16 (the transposes)
#define GEMM_KSTEP 16
#else
#define GEMM_TS __local
#define GEMM_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define GEMM_KSTEP 1
#endif

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#if VWN == 1
typedef float gemm_vec_t;
#elif VWN == 2
typedef float2 gemm_vec_t;
#elif VWN == 4
typedef float4 gemm_vec_t;
#elif VWN == 8
typedef float8 gemm_vec_t;
#else
typedef float16 gemm_vec_t;
#endif

// acc[r*NRV + v]: the MR x NRV register tile of one micro-tile
#define GEMM_ACC_N (MR * NRV)

FK_INLINE void gemm_acc_zero(gemm_vec_t *acc)
{
    #pragma unroll
    for (int t = 0; t < GEMM_ACC_N; ++t) acc[t] = (gemm_vec_t)0.0f;
}

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
// gemm_load_tile: dst[r*ld + c] = src[r*s_r + c*s_c] as float for r < rv,
// c < cv, and 0 for the rest of the R x C tile (so a partial tile adds
// nothing and no lane is ever uninitialised). Strides are elements, >= 0;
// the branches on them are uniform. rv <= R, cv <= C.
// GEMM_WG == 1: R, C, ld multiples of 16, dst 64-byte aligned.
// ---------------------------------------------------------------------------
FK_INLINE float gemm_ld1(__global const fk_store_t *src, long s_r, long s_c,
                         int r, int c, int rv, int cv)
{
    return (r < rv && c < cv) ? FK_SLOAD1(src + r * s_r + c * s_c) : 0.0f;
}

#if GEMM_WG == 1
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
#else
// Cooperative: element e = lid + GEMM_WG*t. Adjacent items take adjacent
// elements along the source's contiguous direction (coalesced reads);
// the caller brackets the call with GEMM_BARRIER().
FK_INLINE void gemm_load_tile(GEMM_TS float *dst, int ld, int R, int C,
                              __global const fk_store_t *src, long s_r, long s_c,
                              int rv, int cv)
{
    const int lid = (int)(get_local_id(1) * get_local_size(0) + get_local_id(0));
    const int total = R * C;
    if (s_r == 1 && s_c != 1) {
        for (int e = lid; e < total; e += GEMM_WG) {
            const int r = e % R, c = e / R;
            dst[r * ld + c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
        }
    } else {
        for (int e = lid; e < total; e += GEMM_WG) {
            const int r = e / C, c = e % C;
            dst[r * ld + c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
        }
    }
}
#endif

// ---------------------------------------------------------------------------
// Micro-kernels: acc[r*NRV + v] += sum_p A(r, p) * B(p, v) for p < kc, the
// register tile of one micro-tile. a points at the micro-tile's first row
// in an A tile ([k][m], lda per p, sa between its rows); the MR values of a
// step p are broadcast against NRV vectors of B. Unrolled over r and v so
// acc lives in registers (MR*NRV + NRV vector registers: on AVX-512 with
// VWN 16, MR*NRV <= 28).
// ---------------------------------------------------------------------------

// B tile [k][n], read as VWN-wide vectors: b at the micro-tile's first
// vector, ldb vectors per p, sb vectors between its NRV vectors
FK_INLINE void gemm_mk_ab(gemm_vec_t *acc, GEMM_TS const float *a, int lda, int sa,
                          GEMM_TS const gemm_vec_t *b, int ldb, int sb, int kc)
{
    for (int p = 0; p < kc; ++p) {
        gemm_vec_t bv[NRV];
        #pragma unroll
        for (int v = 0; v < NRV; ++v) bv[v] = b[p * ldb + v * sb];
        #pragma unroll
        for (int r = 0; r < MR; ++r) {
            const gemm_vec_t av = (gemm_vec_t)a[p * lda + r * sa];
            #pragma unroll
            for (int v = 0; v < NRV; ++v) acc[r * NRV + v] = fma(av, bv[v], acc[r * NRV + v]);
        }
    }
}

// B tile [n][k] (Bᵀ rows, e.g. keys in Q·Kᵀ kept in their stored layout):
// bt at the micro-tile's first column, ldbt floats per column, column group
// v at bt + v*sb*VWN*ldbt with its VWN columns ldbt apart. Gathers each B
// vector: for GPU tiles (small VWN); CPU code packs Bᵀ into [k][n] instead.
FK_INLINE void gemm_mk_abt(gemm_vec_t *acc, GEMM_TS const float *a, int lda, int sa,
                           GEMM_TS const float *bt, int ldbt, int sb, int kc)
{
    for (int p = 0; p < kc; ++p) {
        gemm_vec_t bv[NRV];
        #pragma unroll
        for (int v = 0; v < NRV; ++v) {
            float l[VWN];
            #pragma unroll
            for (int e = 0; e < VWN; ++e) l[e] = bt[(v * sb * VWN + e) * ldbt + p];
#if VWN == 1
            bv[v] = l[0];
#else
            bv[v] = GEMM_CAT(vload, VWN)(0, l);
#endif
        }
        #pragma unroll
        for (int r = 0; r < MR; ++r) {
            const gemm_vec_t av = (gemm_vec_t)a[p * lda + r * sa];
            #pragma unroll
            for (int v = 0; v < NRV; ++v) acc[r * NRV + v] = fma(av, bv[v], acc[r * NRV + v]);
        }
    }
}

// ---------------------------------------------------------------------------
// An item's results: item (ty, tx) owns the MWI x NWI entries of the group's
// MWG x NWG tile at rows q*MDIMC + ty (q < MWI) and VWN-wide column groups
// u*NDIMC + tx (u < NWI/VWN), held in a private array res[q*ldr + u]
// (ldr = GEMM_LDR for a product tile; wider for attention's accumulators).
// Micro-tile (ir, jr) is q = ir*MR + r, u = jr*NRV + v. With one micro-tile
// per item (!GEMM_SWEEP) res is the register tile itself.
// ---------------------------------------------------------------------------
#define GEMM_SWEEP (MWI > MR || NWI > NR)
#define GEMM_LDR (NWI / VWN)
#define GEMM_ITEM_N (MWI * GEMM_LDR)

// an item's micro-tiles with at least one row < mv / one column < nv
FK_INLINE int gemm_nir(int mv) { return min(MWI / MR, (mv + MR * MDIMC - 1) / (MR * MDIMC)); }
FK_INLINE int gemm_njr(int nv) { return min(NWI / NR, (nv + NR * NDIMC - 1) / (NR * NDIMC)); }

// the micro-tile at s (ldr vectors per row) += A·B with gemm_mk_ab's
// operands, through registers; zero: from 0 instead of s's contents
FK_INLINE void gemm_mk_ab_at(gemm_vec_t *s, int ldr, int zero, GEMM_TS const float *a, int lda, int sa,
                             GEMM_TS const gemm_vec_t *b, int ldb, int sb, int kc)
{
    gemm_vec_t acc[GEMM_ACC_N];
    if (zero) {
        gemm_acc_zero(acc);
    } else {
        #pragma unroll
        for (int r = 0; r < MR; ++r) {
            #pragma unroll
            for (int v = 0; v < NRV; ++v) acc[r * NRV + v] = s[r * ldr + v];
        }
    }
    gemm_mk_ab(acc, a, lda, sa, b, ldb, sb, kc);
    #pragma unroll
    for (int r = 0; r < MR; ++r) {
        #pragma unroll
        for (int v = 0; v < NRV; ++v) s[r * ldr + v] = acc[r * NRV + v];
    }
}

// ---------------------------------------------------------------------------
// Block-skip mask over A (matmul's a_mask): entry (R, P) = p[R*s_r + P*s_c]
// covers A's rows [R*rows, (R+1)*rows) x columns [P*cols, (P+1)*cols), and 0
// promises that block is all zeros. rows 0: no mask. i0: the tile's first
// row in A (mask rows count A's rows, mv the tile's).
// ---------------------------------------------------------------------------
typedef struct {
    __global const uchar *p;
    long s_r, s_c;
    int rows, cols, i0;
} gemm_skip_t;

// whether k-block kb of the tile's A rows may hold a nonzero. The same for
// every item of a group, so skipping keeps the barriers uniform.
FK_INLINE int gemm_live(const gemm_skip_t *s, int mv, int kb, int k)
{
    if (s->rows <= 0) return 1;
    const int p0 = kb * KWG, nk = clamp(k - p0, 0, KWG);
    for (int r = s->i0 / s->rows; r <= (s->i0 + mv - 1) / s->rows; ++r)
        for (int q = p0 / s->cols; q <= (p0 + nk - 1) / s->cols; ++q)
            if (s->p[r * s->s_r + q * s->s_c]) return 1;
    return 0;
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
// gemm_store: out(row, c) = alpha·f[row]·res(row, c) + beta·out(row, c),
// rounded once to OUT_DTYPE, for the item's entries with row < mv, c < nv;
// out(row, c) = out[row*o_rs + c*o_cs]. f NULL: 1; beta 0 never reads out.
// res: an item's results with ldr vectors per row (a multiple of NRV).
// ---------------------------------------------------------------------------
FK_INLINE void gemm_store_vec(gemm_vec_t y, __global fk_out_t *o, long o_cs, int col, int nv, float beta)
{
#if VWN == 16
    if (o_cs == 1 && col + 16 <= nv) {
        FK_OSTORE16(beta != 0.0f ? fma((float16)beta, FK_OLOAD16(o + col), y) : y, o + col);
        return;
    }
#endif
    float l[VWN];
#if VWN == 1
    l[0] = y;
#else
    GEMM_CAT(vstore, VWN)(y, 0, l);
#endif
    for (int e = 0; e < VWN && col + e < nv; ++e) {
        __global fk_out_t *p = o + (col + e) * o_cs;
        FK_OSTORE1(beta != 0.0f ? fma(beta, FK_OLOAD1(p), l[e]) : l[e], p);
    }
}

FK_INLINE void gemm_store(const gemm_vec_t *res, int ldr, __global fk_out_t *out, long o_rs, long o_cs,
                          int mv, int nv, float alpha, GEMM_TS const float *f, float beta)
{
    const int ty = (int)get_local_id(1), tx = (int)get_local_id(0);
    for (int ir = 0; ir < MWI / MR; ++ir) {
        #pragma unroll
        for (int r = 0; r < MR; ++r) {
            const int q = ir * MR + r, row = q * MDIMC + ty;
            if (row >= mv) return;   // rows only grow from here
            const float s = f ? alpha * f[row] : alpha;
            __global fk_out_t *o = out + row * o_rs;
            for (int jr = 0; jr < ldr / NRV; ++jr) {
                #pragma unroll
                for (int v = 0; v < NRV; ++v) {
                    const int u = jr * NRV + v, col = (u * NDIMC + tx) * VWN;
                    if (col < nv) gemm_store_vec(s * res[q * ldr + u], o, o_cs, col, nv, beta);
                }
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

#endif // FK_GEMM_H
