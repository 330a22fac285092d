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
// Algorithm: lib/gemm.h's k-loop (gemm_kloop: A and B blocks copied into
// tiles, register-blocked micro-kernels, the skip mask) and its store
// (gemm_store: alpha, beta, the rounding to OUT_DTYPE).
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
//             (one-item groups; cooperating items hold all of MWI x NWI)
//   VWM       cooperating items: width of the A vectors read from __local,
//             1, 2, 4, 8 dividing MWI     default the largest of 4, 2, 1 | MWI
//   FK_NO_FORCE_INLINE  1 with -cl-opt-disable (Oclgrind; common.h) def 0
// Constraints (checked by #error): MDIMC | MWG, NDIMC | NWG, MR | MWI,
// NR | NWI, VWN | NR; with MDIMC = NDIMC = 1 also 16 | MWG, NWG, KWG;
// otherwise 4 | MWG, NWG, KWG and VWM | MWI.
// Register tile: MR*NR/VWN accumulators + NR/VWN vectors of B (GPU:
// MWI*NWI/VWN accumulators, MWI/VWM + NWI/VWN vectors per k-step, and
// KWG*(MWG+NWG)/(MDIMC*NDIMC) prefetched elements).
// Memory per group: MDIMC*NDIMC > 1: __local (KWG*(MWG+NWG)) floats;
// 1 x 1: __private (KWG*(MWG+NWG) + MWG*NWG) floats (host: check against
// CL_DEVICE_LOCAL_MEM_SIZE for the former).
//
// PRESETS (exact -D lists; measurements: Benchmarks/NOTES.md)
//   CPU (PoCL):  -DMWG=96 -DNWG=256 -DKWG=256 -DMDIMC=1 -DNDIMC=1 -DVWN=16
//                -DMR=12 -DNR=32
//     one item per group and per core thread; 12 x 32 micro-tile = 24
//     zmm accumulators + 2 B vectors; tiles A 96 KiB, B 256 KiB (L2),
//     partial sums 96 KiB, all __private (~450 KiB of the thread's stack).
//   GPU:         -DMWG=64 -DNWG=64 -DKWG=16 -DMDIMC=8 -DNDIMC=16 -DVWN=4
//                -DMR=8 -DNR=4    (VWM 4 by default)
//     128 items, 8 x 4 results each in registers; per k-step two float4 of
//     A and one of B from __local (3 reads per 32 FMAs); float4 global
//     loads prefetched a k-block ahead; __local tiles 2 x 4 KiB, swizzled
//     (no bank conflicts for A·B); 117 VGPRs, 4 waves/SIMD on gfx90a.
#include "lib/common.h"
#include "lib/dtype.h"
#include "lib/gemm.h"

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

    __global const fk_store_t *ap = a + a_offset + z * a_batch_stride + i0 * a_row_stride;
    __global const fk_store_t *bp = b + b_offset + z * b_batch_stride + j0 * b_col_stride;
    __global fk_out_t *cp = c + c_offset + z * c_batch_stride + i0 * c_row_stride + j0;
    const gemm_skip_t skip = { a_mask_rows > 0 ? a_mask + a_mask_offset : a_mask, a_mask_row_stride,
                               a_mask_col_stride, a_mask_rows, a_mask_cols, i0 };

    gemm_vec_t res[GEMM_ITEM_N];   // this item's MWI x NWI sums
    gemm_kloop(res, at, bt, ap, a_row_stride, a_col_stride, bp, b_row_stride, b_col_stride, mv, nv, k, &skip);
    gemm_store(res, GEMM_LDR, cp, c_row_stride, 1, mv, nv, alpha, 0, beta);
}
