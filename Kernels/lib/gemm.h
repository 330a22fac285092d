// gemm.h — tile library for register-blocked matrix products (OpenCL C 1.2):
// the core of matmul, and of the cut cross-entropy and flash-attention
// kernels, which reuse its tiles, loaders and micro-kernels.
//
// * Parameters (-D, CLBlast-style; matmul.cl documents them with the
//   presets): MWG, NWG, KWG, MDIMC, NDIMC, VWN, MR, NR (and VWM on GPUs,
//   gemm_gpu.h). Derived here: MWI,
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
// gemm_kloop(res, at, bt, a, a_rs, a_cs, b, b_rs, b_cs, mv, nv, k, skip):
// the group's tile of sum_{p<k} A(i, p)*B(p, j), A(i, p) = a[i*a_rs +
// p*a_cs] for rows i < mv, B(p, j) = b[p*b_rs + j*b_cs] for columns j < nv
// (any strides), into each item's res (item (ty, tx) owns rows q*MDIMC + ty
// and VWN-wide column groups u*NDIMC + tx: res[q*GEMM_LDR + u]; entries
// past mv, nv are zero products). at, bt: the caller's KWG*MWG and KWG*NWG
// floats of GEMM_TS memory, 64-byte aligned. k-blocks the skip mask marks as
// zeros are skipped. Every item of the group calls it (barriers).
// gemm_tile(z, at, bt, a, ..., mv, nv, k): the same product, laid out in z
// [MWG][NWG] (z[i*NWG + j]; entries outside the set micro-tiles are
// unspecified), complete for every item on return.
//
// Two halves with this one API, chosen by the work-group size:
// * GEMM_WG == 1 (CPU devices): lib/gemm_cpu.h. One work-item per core
//   thread, no cooperation: tiles are __private (a per-item packing buffer,
//   not bound by the device's __local size: Oclgrind has 32 KiB), loaders
//   copy 16-wide vectors and transpose 16x16 blocks in registers, and an
//   item sweeps MR x NR micro-tiles over its large MWG x NWG tile (tiles
//   [KWG][MWG] at p*MWG + i and [KWG][NWG] at p*NWG + j).
// * GEMM_WG > 1 (GPU devices): lib/gemm_gpu.h. Tiles are __local, staged by
//   4-wide coalesced global loads through registers (the next k-block
//   prefetched), laid out with XOR swizzles so that stores and reads are
//   free of bank conflicts; each item holds its whole MWI x NWI tile in
//   registers, fed by VWM-wide A and VWN-wide B __local reads. Extra
//   parameter VWM (gemm_gpu.h).
// gemm_load_tile, gemm_mk_ab(_at), gemm_nir/njr (micro-tiles of MR x NR) are
// kept in both for attention's accumulator products.
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
// gemm_load_tile: dst[r*ld + c] = src[r*s_r + c*s_c] as float for r < rv,
// c < cv, and 0 for the rest of the R x C tile (so a partial tile adds
// nothing and no lane is ever uninitialised). Strides are elements, >= 0;
// the branches on them are uniform. rv <= R, cv <= C.
// GEMM_WG == 1: R, C, ld multiples of 16, dst 64-byte aligned (gemm_cpu.h);
// GEMM_WG > 1: cooperative, between barriers (gemm_gpu.h).
// ---------------------------------------------------------------------------
FK_INLINE float gemm_ld1(__global const fk_store_t *src, long s_r, long s_c,
                         int r, int c, int rv, int cv)
{
    return (r < rv && c < cv) ? FK_SLOAD1(src + r * s_r + c * s_c) : 0.0f;
}


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
// The two halves: gemm_load_tile, gemm_kloop and gemm_tile (documented
// below, one API) for one-item groups (CPU devices) or cooperating groups.
// ---------------------------------------------------------------------------
#if GEMM_WG == 1
#include "lib/gemm_cpu.h"
#else
#include "lib/gemm_gpu.h"
#endif

#endif // FK_GEMM_H
