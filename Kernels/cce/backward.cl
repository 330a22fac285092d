// backward.cl — cut cross-entropy, backward (OpenCL C 1.2): the logit
// gradient of one vocabulary chunk, recomputed tile by tile, for the host to
// multiply out with matmul.cl (dE += dZ·C_chunk, dC_chunk = dZᵀ·E) — every
// output element has one owner, and no float atomics.
//
// cce_dlogits: group (u, t) recomputes logit tile (token rows [t*MWG, +MWG),
//   chunk columns [u*NWG, +NWG)) and turns it into
//     dz(i, j) = w_i·[(1 + zloss2·lse_i)·p_ij − smooth_per_column
//                      − (1 − smoothing)·[j is t_i's column]]·cap'(z_ij)
//   with p = e^(z − lse), cap' = 1 − (z/cap)² when cap > 0 (z soft-capped).
//   (The host passes w divided by max|w| and multiplies the products by it.)
//   Filtering: the tile is dead when no row has w_i != 0 with an entry
//   |(1 + zloss2·lse_i)·p_ij − smooth_per_column| >= filter or a target
//   column (filter 0: never dead; NaN is never below it). A dead tile
//   stores zeros; mask[t*mask_row_stride + u] = 0 (dead) or 1, for matmul.cl
//   to skip the blocks. With has_bias it also stores the tile's column sums,
//   bias_part[t*vc + column].
//   CPU preset: the item takes the tile row by row; GPU preset: every item
//   an element at a time (lid + GEMM_WG*p), dz stored with adjacent items
//   on adjacent columns, the column sums by row groups of NWG items.
//   LAUNCH RULE (2-D NDRange): global = (ceil(vc/NWG)*NDIMC, ceil(n/MWG)*MDIMC),
//   local = (NDIMC, MDIMC). dz is [n, vc] of DTYPE, row stride dz_row_stride;
//   mask is [ceil(n/MWG), ceil(vc/NWG)] with row stride mask_row_stride.
//   Operands are cce/logits.h's, with c and bias at the chunk's first row;
//   target_lo is the vocabulary index of the chunk's column 0.
// cce_bias_grad: one item per chunk column j < vc (global = round_up(vc,
//   WG_SIZE)): dbias[dbias_offset + j*dbias_stride] = scale·Σ_t bias_part[t*vc + j]
//   over the token tiles t < token_tiles, in order.
//
// Build options (-D): DTYPE, the lib/gemm.h tile parameters (the matmul
// presets), WG_SIZE (cce_bias_grad's local size, default 1).
#include "cce/logits.h"

#ifndef WG_SIZE
#define WG_SIZE 1
#endif

// the coefficients of one row's gradient
typedef struct {
    float w, lse, a, spc, target_step, filter, cap;
    int tcol;   // the target's column in the tile, or -1
} cce_grad_row;

// row zr (nv logits) -> its gradient, in place; returns whether it is live.
// Columns [nv, round_up(nv, 16)) hold finite values from gemm_tile and are
// left as they are (the column sums' last vector reads them, never stores them).
FK_INLINE int cce_grad_row_apply(GEMM_TS float *zr, int nv, cce_grad_row g)
{
    if (g.w == 0.0f) {   // an ignored token: zeros, never 0*inf
        for (int j = 0; j < nv; ++j) zr[j] = 0.0f;
        return 0;
    }
    const int nv16 = nv & ~15;
    const float inv = g.cap > 0.0f ? 1.0f / g.cap : 0.0f;
    int16 live16 = (int16)0;
    float tz = 0.0f;
    if (g.tcol >= 0) tz = zr[g.tcol];
    for (int j = 0; j < nv16; j += 16) {
        GEMM_TS float16 *v = (GEMM_TS float16 *)(zr + j);
        const float16 x = *v;
        const float16 q = g.a * fk_expneg16(x - (float16)g.lse, 1.0f) - (float16)g.spc;   // x <= lse
        live16 |= !(fabs(q) < (float16)g.filter);
        const float16 y = x * (float16)inv;
        *v = g.w * q * (g.cap > 0.0f ? (float16)1.0f - y * y : (float16)1.0f);
    }
    int live = fk_any16(live16);
    for (int j = nv16; j < nv; ++j) {
        const float x = zr[j], q = g.a * fk_expneg(x - g.lse, 1.0f) - g.spc;
        live |= !(fabs(q) < g.filter);
        const float y = x * inv;
        zr[j] = g.w * q * (g.cap > 0.0f ? 1.0f - y * y : 1.0f);
    }
    if (g.tcol >= 0) {   // the one-hot term, on the logit saved above
        const float q = g.a * fk_expneg(tz - g.lse, 1.0f) - g.spc - g.target_step, y = tz * inv;
        zr[g.tcol] = g.w * q * (g.cap > 0.0f ? 1.0f - y * y : 1.0f);
        live = 1;
    }
    return live;
}

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void cce_dlogits(__global const fk_store_t *e, long e_offset, long e_row_stride, long e_col_stride,
                 __global const fk_store_t *c, long c_offset, long c_row_stride, long c_col_stride,
                 __global const fk_store_t *bias, long bias_offset, long bias_stride, int has_bias,
                 __global const int *targets, long targets_offset, long targets_stride,
                 __global const float *lse, __global const float *weights,
                 int n, int vc, int dz_row_stride, int d, float cap, int target_lo,
                 float zloss2, float smooth_per_column, float smoothing, float filter,
                 __global fk_store_t *dz, __global uchar *mask, int mask_row_stride, __global float *bias_part)
{
    GEMM_TS float at[KWG * MWG] __attribute__((aligned(64)));
    GEMM_TS float bt[KWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float z[MWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float bias_t[NWG] __attribute__((aligned(64)));
    GEMM_TS int live_l[GEMM_WG];

#if GEMM_WG > 1
    // GPU preset: every item busy on element lid + GEMM_WG*p of the tile
    // (adjacent items on adjacent columns: __local reads without bank
    // conflicts, dz stores coalesced); the rows' coefficients in __local
    // memory, the live flag one __local int (atomic_or)
    GEMM_TS float row_w[MWG], row_l[MWG];
    GEMM_TS int row_t[MWG];
    const int u = (int)get_group_id(0), t = (int)get_group_id(1);
    const int i0 = t * MWG, j0 = u * NWG;
    const int mv = min(MWG, n - i0), nv = min(NWG, vc - j0), lid = cce_lid();
    for (int r = lid; r < mv; r += GEMM_WG) {   // ordered before use by the tile's barriers
        const int i = i0 + r;
        row_w[r] = weights[i];
        row_l[r] = lse[i];
        const int tcol = targets[targets_offset + i * targets_stride] - target_lo - j0;
        row_t[r] = (tcol >= 0 && tcol < nv) ? tcol : -1;
    }
    if (lid == 0) live_l[0] = 0;
    cce_logit_tile(z, at, bt, bias_t, e + e_offset + i0 * e_row_stride, e_row_stride, e_col_stride,
                   c + c_offset + j0 * c_row_stride, c_row_stride, c_col_stride,
                   bias + bias_offset + j0 * bias_stride, bias_stride, has_bias, mv, nv, d, cap);
    const float inv = cap > 0.0f ? 1.0f / cap : 0.0f, target_step = 1.0f - smoothing;
    int live = 0;
    for (int idx = lid; idx < MWG * NWG; idx += GEMM_WG) {
        const int r = idx / NWG, j = idx % NWG;
        if (r >= mv || j >= nv) continue;
        const float w = row_w[r];
        float g = 0.0f;   // an ignored token (w = 0): zeros, never 0*inf
        if (w != 0.0f) {
            const float x = z[idx], l = row_l[r];
            const float q = (1.0f + zloss2 * l) * fk_expneg(x - l, 1.0f) - smooth_per_column;   // x <= lse
            const int hit = j == row_t[r];
            live |= hit | !(fabs(q) < filter);
            const float y = x * inv;
            g = w * (hit ? q - target_step : q) * (cap > 0.0f ? 1.0f - y * y : 1.0f);
        }
        z[idx] = g;
    }
    if (live) atomic_or(live_l, 1);
    GEMM_BARRIER();
    live = live_l[0];
    if (lid == 0) mask[(long)t * mask_row_stride + u] = (uchar)live;
    for (int idx = lid; idx < MWG * NWG; idx += GEMM_WG) {
        const int r = idx / NWG, j = idx % NWG;
        if (r < mv && j < nv) FK_SSTORE1(live ? z[idx] : 0.0f, dz + (long)(i0 + r) * dz_row_stride + j0 + j);
    }
    if (!has_bias) return;
#if GEMM_WG >= NWG
    // column sums: GEMM_WG / NWG row groups of NWG items (item j of a group
    // on column j), then one item per column adds the groups' sums in order
    // (the partial sums in `at`, free since the product)
    const int j = lid % NWG, rg = lid / NWG;
    float sum = 0.0f;
    if (live) for (int r = rg; r < mv; r += GEMM_WG / NWG) sum += z[r * NWG + j];
    at[lid] = sum;
    GEMM_BARRIER();
    if (lid < NWG && lid < nv) {
        float total = at[lid];
        for (int g2 = 1; g2 < GEMM_WG / NWG; ++g2) total += at[g2 * NWG + lid];
        bias_part[(long)t * vc + j0 + lid] = total;
    }
#else
    for (int j = lid; j < nv; j += GEMM_WG) {
        float sum = 0.0f;
        if (live) for (int r = 0; r < mv; ++r) sum += z[r * NWG + j];
        bias_part[(long)t * vc + j0 + j] = sum;
    }
#endif
#else
    const int u = (int)get_group_id(0), t = (int)get_group_id(1);
    const int i0 = t * MWG, j0 = u * NWG;
    const int mv = min(MWG, n - i0), nv = min(NWG, vc - j0), lid = cce_lid();
    cce_logit_tile(z, at, bt, bias_t, e + e_offset + i0 * e_row_stride, e_row_stride, e_col_stride,
                   c + c_offset + j0 * c_row_stride, c_row_stride, c_col_stride,
                   bias + bias_offset + j0 * bias_stride, bias_stride, has_bias, mv, nv, d, cap);
    int live = 0;
    for (int r = lid; r < mv; r += GEMM_WG) {
        const int i = i0 + r;
        const float l = lse[i];
        const int tcol = targets[targets_offset + i * targets_stride] - target_lo - j0;
        const cce_grad_row g = { weights[i], l, 1.0f + zloss2 * l, smooth_per_column, 1.0f - smoothing, filter, cap,
                                 (tcol >= 0 && tcol < nv) ? tcol : -1 };
        live |= cce_grad_row_apply(z + r * NWG, nv, g);
    }
    live_l[lid] = live;
    GEMM_BARRIER();
    live = 0;
    for (int l = 0; l < GEMM_WG; ++l) live |= live_l[l];
    if (lid == 0) mask[(long)t * mask_row_stride + u] = (uchar)live;

    // the tile to dz (zeros when dead), one row per item
    for (int r = lid; r < mv; r += GEMM_WG) {
        __global fk_store_t *out = dz + (long)(i0 + r) * dz_row_stride + j0;
        GEMM_TS const float *zr = z + r * NWG;
        const int nv16 = nv & ~15;
        for (int j = 0; j < nv16; j += 16)
            FK_SSTORE16(live ? *(GEMM_TS const float16 *)(zr + j) : (float16)0.0f, out + j);
        for (int j = nv16; j < nv; ++j) FK_SSTORE1(live ? zr[j] : 0.0f, out + j);
    }
    if (!has_bias) return;
    // column sums of the tile, 16 columns per item and step
    for (int j = lid * 16; j < nv; j += GEMM_WG * 16) {
        float16 s = (float16)0.0f;
        if (live) for (int r = 0; r < mv; ++r) s += *(GEMM_TS const float16 *)(z + r * NWG + j);
        __global float *out = bias_part + (long)t * vc + j0 + j;
        if (j + 16 <= nv) {
            FK_STORE16(s, out);
        } else {
            float l[16];
            vstore16(s, 0, l);
            for (int q = 0; q < nv - j; ++q) out[q] = l[q];
        }
    }
#endif
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void cce_bias_grad(__global const float *bias_part, int token_tiles, int vc, float scale,
                   __global fk_store_t *dbias, long dbias_offset, long dbias_stride)
{
    const int j = (int)get_global_id(0);
    if (j >= vc) return;
    float s = 0.0f;
    for (int t = 0; t < token_tiles; ++t) s += bias_part[(long)t * vc + j];
    FK_SSTORE1(scale * s, dbias + dbias_offset + j * dbias_stride);
}
