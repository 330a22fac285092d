// matmul.cl — batched, strided C = alpha·A·B + beta·C (OpenCL C 1.2), built
// from the tiles of lib/gemm.h.
//
// LAUNCH RULE (3-D NDRange):
//   global = (ceil(n/NWG)*NDIMC, ceil(m/MWG)*MDIMC, batch)
//   local  = (NDIMC, MDIMC, 1)                (reqd_work_group_size)
//   A work-group computes one MWG x NWG tile of C for batch get_group_id(2).
//   Groups are mapped to tiles m-fastest (linear group id g -> tile row
//   g % groups_m, tile column g / groups_m): consecutive groups share a B
//   panel (cache reuse when B is the big operand, e.g. E·Cᵀ over a
//   vocabulary).
//
// Semantics, batch z: C_z = alpha·A_z·B_z + beta·C_z, A_z [m, k], B_z [k, n]
//   A_z(i, p) = a[a_offset + z*a_batch_stride + i*a_row_stride + p*a_col_stride]
//   B_z(p, j) = b[b_offset + z*b_batch_stride + p*b_row_stride + j*b_col_stride]
//   C_z(i, j) = c[c_offset + z*c_batch_stride + i*c_row_stride + j]
// Strides are element counts >= 0 (0 broadcasts); transposes are strides
// (A stored [k, m]: a_row_stride 1, a_col_stride m; B stored [n, k]:
// b_row_stride 1, b_col_stride k). Unit strides are detected at run time
// and take vector paths; any stride is correct. beta == 0 never reads C.
// m, n, k >= 1 (k = 0, untested, would store beta·C). Accumulation in
// float; DTYPE 1/2 operands are widened when tiled, C (OUT_DTYPE) rounded
// once (RTE).
//
// Block-skip mask on A (a_mask_rows > 0; 0 disables it and a_mask may be
// NULL): entry (R, P) = a_mask[a_mask_offset + R*a_mask_row_stride +
// P*a_mask_col_stride] covers A_z rows [R*a_mask_rows, (R+1)*a_mask_rows) x
// columns [P*a_mask_cols, (P+1)*a_mask_cols), for every batch; 0 promises
// that block of A is all zeros (a transposed A passes its mask transposed:
// strides and granularities swapped). A group skips a k-block (no loads,
// no products) when every entry overlapping its rows x the block is 0: for
// gradients known to be zero (cut cross-entropy's filtering). With finite
// B the result equals the unmasked one on the zeroed A, up to the sign of
// a zero (x + +0 turns an accumulated -0 into +0, a skip does not).
//
// Algorithm. Per k-block of KWG: A and B blocks are copied (transposed if
// needed: gemm_load_tile) into tiles A [KWG][MWG] and B [KWG][NWG]; each
// work-item runs the register-blocked micro-kernel gemm_mk_ab over its
// MR x NR micro-tiles. When an item's tile is larger than one micro-tile
// (MWI > MR or NWI > NR: the CPU preset) the partial sums of its micro-tiles
// wait in a private float tile between k-blocks (MWI*NWI floats, read and
// written once per KWG steps) and C is written at the last k-block.
//
// Build options (-D):
//   DTYPE     storage of a, b (lib/dtype.h): 0 float, 1 half, 2 bfloat16
//                                                               default 0
//   OUT_DTYPE storage of c, same codes (fp32 C from fp16/bf16 A, B: mixed
//             precision)                                    default DTYPE
//   MWG, NWG  work-group tile of C (rows x columns)         default 64, 64
//   KWG       k-block: rows of the A / B tiles per step          default 16
//   MDIMC, NDIMC  work-items per group along m and n (local size
//             (NDIMC, MDIMC)); 1 x 1 selects the one-item design
//             (private tiles, 16-wide packing)              default 16, 16
//   VWN       vector width along n of the register tile: 1, 2, 4, 8, 16
//                                                               default 1
//   MR, NR    micro-tile (rows x columns) swept over the per-item tile
//             MWI x NWI = (MWG/MDIMC) x (NWG/NDIMC)  default MWI, NWI
//   FK_NO_FORCE_INLINE  1 with -cl-opt-disable (Oclgrind; common.h) def 0
// Constraints (checked by #error): MDIMC | MWG, NDIMC | NWG, MR | MWI,
// NR | NWI, VWN | NR; with MDIMC = NDIMC = 1 also 16 | MWG, NWG, KWG.
// Register tile: MR*NR/VWN accumulators + NR/VWN vectors of B.
// Memory per group: MDIMC*NDIMC > 1: __local (KWG*(MWG+NWG)) floats;
// 1 x 1: __private (KWG*(MWG+NWG) + MWG*NWG) floats (host: check against
// CL_DEVICE_LOCAL_MEM_SIZE for the former).
//
// PRESETS (exact -D lists)
//   CPU (PoCL):  -DMWG=96 -DNWG=256 -DKWG=256 -DMDIMC=1 -DNDIMC=1 -DVWN=16
//                -DMR=12 -DNR=32
//     one item per group and per core thread; 12 x 32 micro-tile = 24
//     zmm accumulators + 2 B vectors; tiles A 96 KiB, B 256 KiB (L2),
//     partial sums 96 KiB, all __private (~450 KiB of the thread's stack).
//     PoCL 3.1 pthread, 2-core EPYC Zen 4: 2048^3 A·B 167 GFLOP/s vs
//     OpenBLAS 181; 1024 x 65536 x 1024 A·Bᵀ 166 vs 190 (same run).
//     Rejected: MR=14 (MWG 112), KWG=128: both slower.
//   GPU:         -DMWG=64 -DNWG=64 -DKWG=16 -DMDIMC=16 -DNDIMC=16 -DVWN=4
//     256 items, 4 x 4 results each (one float4 of B per k-step), __local
//     tiles 2 x 4 KiB. Correct and race-free (Oclgrind); speed unmeasured.
#include "lib/common.h"
#include "lib/dtype.h"
#include "lib/gemm.h"

// the per-item tile is swept in micro-tiles (partial sums kept in a tile)
#define MM_SWEEP (MWI > MR || NWI > NR)

// C = alpha*acc + beta*C for one micro-tile: rows row0 + r*MDIMC, columns
// col0 + v*NDIMC*VWN + e, inside the valid mv x nv corner of the tile
FK_INLINE void mm_store(const gemm_vec_t *acc, __global fk_out_t *c, long ldc,
                        int row0, int col0, int mv, int nv, float alpha, float beta)
{
    #pragma unroll
    for (int r = 0; r < MR; ++r) {
        const int row = row0 + r * MDIMC;
        if (row >= mv) break;
        __global fk_out_t *cr = c + row * ldc;
        #pragma unroll
        for (int v = 0; v < NRV; ++v) {
            const int col = col0 + v * NDIMC * VWN;
            const gemm_vec_t y = alpha * acc[r * NRV + v];
#if VWN == 16
            if (col + 16 <= nv) {
                FK_OSTORE16(beta != 0.0f ? fma((float16)beta, FK_OLOAD16(cr + col), y) : y,
                            cr + col);
                continue;
            }
#endif
            float l[VWN];
#if VWN == 1
            l[0] = y;
#else
            GEMM_CAT(vstore, VWN)(y, 0, l);
#endif
            for (int e = 0; e < VWN && col + e < nv; ++e) {
                const float o = l[e];
                FK_OSTORE1(beta != 0.0f ? fma(beta, FK_OLOAD1(cr + col + e), o) : o, cr + col + e);
            }
        }
    }
}

// whether A's rows [i0, i0 + mv) x columns [p0, p0 + nk) may hold a nonzero:
// some a_mask entry overlapping them is set (always, without a mask). The
// same for every item of a group, so skipping keeps the barriers uniform.
FK_INLINE int mm_live(__global const uchar *mask, long s_r, long s_c, int gr, int gc,
                      int i0, int mv, int p0, int nk)
{
    if (gr <= 0) return 1;
    for (int r = i0 / gr; r <= (i0 + mv - 1) / gr; ++r)
        for (int q = p0 / gc; q <= (p0 + nk - 1) / gc; ++q)
            if (mask[r * s_r + q * s_c]) return 1;
    return 0;
}

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void matmul(__global const fk_store_t *a, __global const fk_store_t *b, __global fk_out_t *c,
    long a_offset, long a_batch_stride, long a_row_stride, long a_col_stride,
    long b_offset, long b_batch_stride, long b_row_stride, long b_col_stride,
    long c_offset, long c_batch_stride, long c_row_stride,
    int m, int n, int k, float alpha, float beta,
    __global const uchar *a_mask, long a_mask_offset, long a_mask_row_stride, long a_mask_col_stride,
    int a_mask_rows, int a_mask_cols)
{
    GEMM_TS float at[KWG * MWG] __attribute__((aligned(64)));
    GEMM_TS float bt[KWG * NWG] __attribute__((aligned(64)));

    // group -> tile, m-fastest (see the launch rule)
    const int gm = (int)get_num_groups(1);
    const int g = (int)(get_group_id(1) * get_num_groups(0) + get_group_id(0));
    const int i0 = (g % gm) * MWG, j0 = (g / gm) * NWG;
    const int mv = min(MWG, m - i0), nv = min(NWG, n - j0);
    const long z = (long)get_group_id(2);
    const int ty = (int)get_local_id(1), tx = (int)get_local_id(0);

    __global const fk_store_t *ap = a + a_offset + z * a_batch_stride + i0 * a_row_stride;
    __global const fk_store_t *bp = b + b_offset + z * b_batch_stride + j0 * b_col_stride;
    __global fk_out_t *cp = c + c_offset + z * c_batch_stride + i0 * c_row_stride + j0;

    // micro-tiles with at least one row / column inside the matrix
    const int nir = min(MWI / MR, (mv + MR * MDIMC - 1) / (MR * MDIMC));
    const int njr = min(NWI / NR, (nv + NR * NDIMC - 1) / (NR * NDIMC));
    const int nkb = max(1, (k + KWG - 1) / KWG);
    // k-blocks [kb0, kb1] are swept, dead ones inside skipped; with none live
    // kb0 = kb1 = nkb - 1 runs empty (nk 0), so that C is still written
    __global const uchar *mask = a_mask_rows > 0 ? a_mask + a_mask_offset : a_mask;
#define MM_LIVE(kb) mm_live(mask, a_mask_row_stride, a_mask_col_stride, a_mask_rows, a_mask_cols, \
                            i0, mv, (kb) * KWG, clamp(k - (kb) * KWG, 0, KWG))
    int kb0 = 0, kb1 = nkb - 1;
    while (kb0 < nkb - 1 && !MM_LIVE(kb0)) ++kb0;
    while (kb1 > kb0 && !MM_LIVE(kb1)) --kb1;

    gemm_vec_t acc[GEMM_ACC_N];
#if MM_SWEEP
    gemm_vec_t part[MWI * NWI / VWN];   // partial sums, [MWI][NWI/VWN]
#else
    gemm_acc_zero(acc);
#endif
    for (int kb = kb0; kb <= kb1; ++kb) {
        const int live = MM_LIVE(kb);
        if (!live && kb < kb1) continue;   // a block of zeros adds nothing
        const int p0 = kb * KWG;
        const int nk = live ? clamp(k - p0, 0, KWG) : 0;
        const int kc = (nk + GEMM_KSTEP - 1) / GEMM_KSTEP * GEMM_KSTEP;
        GEMM_BARRIER();   // the previous block's tiles are consumed
        gemm_load_tile(at, MWG, kc, MWG, ap + p0 * a_col_stride, a_col_stride, a_row_stride, nk, mv);
        gemm_load_tile(bt, NWG, kc, NWG, bp + p0 * b_row_stride, b_row_stride, b_col_stride, nk, nv);
        GEMM_BARRIER();
        for (int jr = 0; jr < njr; ++jr) {
            for (int ir = 0; ir < nir; ++ir) {
#if MM_SWEEP
                gemm_vec_t *ps = part + ir * MR * (NWI / VWN) + jr * NRV;
                if (kb == kb0) {
                    gemm_acc_zero(acc);
                } else {
                    #pragma unroll
                    for (int r = 0; r < MR; ++r) {
                        #pragma unroll
                        for (int v = 0; v < NRV; ++v) acc[r * NRV + v] = ps[r * (NWI / VWN) + v];
                    }
                }
#endif
                gemm_mk_ab(acc, at + ir * MR * MDIMC + ty, MWG, MDIMC,
                           (GEMM_TS const gemm_vec_t *)bt + jr * NRV * NDIMC + tx, NWG / VWN, NDIMC, kc);
#if MM_SWEEP
                if (kb == kb1) {
                    mm_store(acc, cp, c_row_stride, ir * MR * MDIMC + ty,
                             (jr * NRV * NDIMC + tx) * VWN, mv, nv, alpha, beta);
                } else {
                    #pragma unroll
                    for (int r = 0; r < MR; ++r) {
                        #pragma unroll
                        for (int v = 0; v < NRV; ++v) ps[r * (NWI / VWN) + v] = acc[r * NRV + v];
                    }
                }
#endif
            }
        }
    }
#if !MM_SWEEP
    mm_store(acc, cp, c_row_stride, ty, tx * VWN, mv, nv, alpha, beta);
#endif
#undef MM_LIVE
}
