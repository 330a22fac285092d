// forward.cl — cut cross-entropy, forward (OpenCL C 1.2): per-token
// statistics of the logits z = softcap(E·Cᵀ + bias) without storing them.
//
// cce_forward: the online normalizer carries (m, d) = (max z, Σ e^(z − m))
// and Σ z per row across the vocabulary tiles of a group's split.
// LAUNCH RULE (2-D NDRange):
//   global = (splits*NDIMC, ceil(n/MWG)*MDIMC)   local = (NDIMC, MDIMC)
//   group (s, t): token rows [t*MWG, t*MWG + MWG), vocabulary tiles
//   [s*T/splits, (s+1)*T/splits) of the T = ceil(vocab/NWG) tiles of NWG
//   columns; splits <= T. It writes, for each of its rows i,
//   partials[(i*splits + s)*3 + (0, 1, 2)] = (m, d, Σ z) of its columns.
// CPU preset: the item absorbs the tile's rows one by one (cce_absorb_row);
// GPU preset: CCE_Q items per row (cce/logits.h), all items busy, merged
// per row in __local memory at the end (cce_absorb_part).
// cce_statistics: one item per token i < n (global = round_up(n, WG_SIZE),
//   local WG_SIZE): merges row i's splits in order, and adds the target's
//   logit as an indexed dot product E(i)·C(t_i − shard_lo) (+ bias, soft-cap)
//   when shard_lo <= t_i < shard_lo + vocab, else 0:
//   stats[4*i + (0, 1, 2, 3)] = (m, d, Σ z, z_target).
//
// Build options (-D): DTYPE (lib/dtype.h); the tile parameters of
// lib/gemm.h (MWG, NWG, KWG, MDIMC, NDIMC, VWN, MR, NR: the matmul presets);
// WG_SIZE (cce_statistics' local size, default 1).
#include "cce/logits.h"
#include "lib/online.h"

#ifndef WG_SIZE
#define WG_SIZE 1
#endif

// absorb row zr's nv logits into (m, d) and the logit sum s (z - ms <= 0: the
// softmax's cheaper exp, fk_expneg)
FK_INLINE void cce_absorb_row(GEMM_TS const float *zr, int nv, float *m, float *d, float *s)
{
    const int nv16 = nv & ~15;
    float16 mx16 = (float16)(-INFINITY), s16 = (float16)0.0f;
    for (int j = 0; j < nv16; j += 16) {
        const float16 v = *(GEMM_TS const float16 *)(zr + j);
        mx16 = fk_max16(mx16, v);
        s16 += v;
    }
    float mx = fk_hmax16(mx16), sum = fk_hsum16(s16);
    for (int j = nv16; j < nv; ++j) {
        mx = fk_max(mx, zr[j]);
        sum += zr[j];
    }
    const float mn = fk_max(*m, mx), ms = fk_safe_max(mn);
    float16 e16 = (float16)0.0f;
    for (int j = 0; j < nv16; j += 16) e16 += fk_expneg16(*(GEMM_TS const float16 *)(zr + j) - (float16)ms, 1.0f);
    float e = fk_hsum16(e16);
    for (int j = nv16; j < nv; ++j) e += fk_expneg(zr[j] - ms, 1.0f);
    *d = *d * fk_exp(*m - ms) + e;
    *m = mn;
    *s += sum;
}

#if GEMM_WG > 1
// GPU preset: absorb item q's columns of row r (logits.h's CCE_COL order)
// into its own (m, d) and logit sum s: a max pass and an exp pass over the
// tile in __local memory (unrolled by 4: fully unrolled, the 16 columns' loads
// and exps took 91 VGPRs and spilled SGPRs on gfx90a; by 4, 57 and none)
FK_INLINE void cce_absorb_part(GEMM_TS const float *zr, int r, int q, int nv, float *m, float *d, float *s)
{
    float mx = -INFINITY, sum = 0.0f;
    #pragma unroll 4
    for (int k = 0; k < NWG / CCE_Q; ++k) {
        const int j = CCE_COL(q, k, r);
        if (j < nv) {
            const float v = zr[j];
            mx = fk_max(mx, v);
            sum += v;
        }
    }
    const float mn = fk_max(*m, mx), ms = fk_safe_max(mn);
    float e = 0.0f;
    #pragma unroll 4
    for (int k = 0; k < NWG / CCE_Q; ++k) {
        const int j = CCE_COL(q, k, r);
        if (j < nv) e += fk_expneg(zr[j] - ms, 1.0f);
    }
    *d = *d * fk_exp(*m - ms) + e;
    *m = mn;
    *s += sum;
}
#endif

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void cce_forward(__global const fk_store_t *e, long e_offset, long e_row_stride, long e_col_stride,
                 __global const fk_store_t *c, long c_offset, long c_row_stride, long c_col_stride,
                 __global const fk_store_t *bias, long bias_offset, long bias_stride, int has_bias,
                 int n, int vocab, int d, float cap, int splits, __global float *partials)
{
    GEMM_TS float at[KWG * MWG] __attribute__((aligned(64)));
    GEMM_TS float bt[KWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float z[MWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float bias_t[NWG] __attribute__((aligned(64)));

    const int s = (int)get_group_id(0), i0 = (int)get_group_id(1) * MWG;
    const int mv = min(MWG, n - i0), lid = cce_lid();
    const int tiles = (vocab + NWG - 1) / NWG;
    const int tb = (int)((long)s * tiles / splits), te = (int)((long)(s + 1) * tiles / splits);

#if GEMM_WG > 1
    // GPU preset: CCE_Q items per row (logits.h), each with its own (m, d,
    // Σ z) over its columns of every tile; merged per row at the end
    const int q = lid % CCE_Q, rr = lid / CCE_Q;
    float m[CCE_PASSES], dd[CCE_PASSES], sz[CCE_PASSES];
    for (int p = 0; p < CCE_PASSES; ++p) (m[p] = -INFINITY, dd[p] = 0.0f, sz[p] = 0.0f);
    __global const fk_store_t *ep = e + e_offset + i0 * e_row_stride;
    for (int tile = tb; tile < te; ++tile) {
        const int j0 = tile * NWG, nv = min(NWG, vocab - j0);
        cce_logit_tile(z, at, bt, bias_t, ep, e_row_stride, e_col_stride,
                       c + c_offset + j0 * c_row_stride, c_row_stride, c_col_stride,
                       bias + bias_offset + j0 * bias_stride, bias_stride, has_bias, mv, nv, d, cap);
        for (int p = 0; p < CCE_PASSES; ++p) {
            const int r = rr + p * CCE_RP;
            if (r < mv) cce_absorb_part(z + r * NWG, r, q, nv, &m[p], &dd[p], &sz[p]);
        }
    }
    // the row's CCE_Q triples through __local memory (z, free after a
    // barrier), merged in item order by its item q = 0
    GEMM_BARRIER();
    for (int p = 0; p < CCE_PASSES; ++p) {
        const int r = rr + p * CCE_RP;
        if (r < mv) {
            GEMM_TS float *t = z + 3 * (r * CCE_Q + q);
            t[0] = m[p];
            t[1] = dd[p];
            t[2] = sz[p];
        }
    }
    GEMM_BARRIER();
    for (int p = 0; p < CCE_PASSES; ++p) {
        const int r = rr + p * CCE_RP;
        if (q == 0 && r < mv) {
            GEMM_TS const float *t = z + 3 * r * CCE_Q;
            float mm = t[0], d2 = t[1], s2 = t[2];
            for (int u = 1; u < CCE_Q; ++u) {
                fk_online_merge(&mm, &d2, t[3 * u], t[3 * u + 1]);
                s2 += t[3 * u + 2];
            }
            __global float *o = partials + ((long)(i0 + r) * splits + s) * 3;
            o[0] = mm;
            o[1] = d2;
            o[2] = s2;
        }
    }
#else
    float m[CCE_ROWS], dd[CCE_ROWS], sz[CCE_ROWS];
    for (int q = 0; q < CCE_ROWS; ++q) (m[q] = -INFINITY, dd[q] = 0.0f, sz[q] = 0.0f);
    __global const fk_store_t *ep = e + e_offset + i0 * e_row_stride;
    for (int tile = tb; tile < te; ++tile) {
        const int j0 = tile * NWG, nv = min(NWG, vocab - j0);
        cce_logit_tile(z, at, bt, bias_t, ep, e_row_stride, e_col_stride,
                       c + c_offset + j0 * c_row_stride, c_row_stride, c_col_stride,
                       bias + bias_offset + j0 * bias_stride, bias_stride, has_bias, mv, nv, d, cap);
        for (int q = 0; q < CCE_ROWS; ++q) {
            const int r = lid + q * GEMM_WG;
            if (r < mv) cce_absorb_row(z + r * NWG, nv, &m[q], &dd[q], &sz[q]);
        }
    }
    for (int q = 0; q < CCE_ROWS; ++q) {
        const int r = lid + q * GEMM_WG;
        if (r < mv) {
            __global float *p = partials + ((long)(i0 + r) * splits + s) * 3;
            p[0] = m[q];
            p[1] = dd[q];
            p[2] = sz[q];
        }
    }
#endif
}
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void cce_statistics(__global const fk_store_t *e, long e_offset, long e_row_stride, long e_col_stride,
                    __global const fk_store_t *c, long c_offset, long c_row_stride, long c_col_stride,
                    __global const fk_store_t *bias, long bias_offset, long bias_stride, int has_bias,
                    __global const int *targets, long targets_offset, long targets_stride,
                    int n, int vocab, int d, float cap, int shard_lo, int splits,
                    __global const float *partials, __global float *stats)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    __global const float *p = partials + (long)i * splits * 3;
    float m = p[0], dd = p[1], s = p[2];
    for (int q = 1; q < splits; ++q) {
        fk_online_merge(&m, &dd, p[3 * q], p[3 * q + 1]);
        s += p[3 * q + 2];
    }
    const int col = targets[targets_offset + i * targets_stride] - shard_lo;
    float zt = 0.0f;
    if (col >= 0 && col < vocab) {
        __global const fk_store_t *er = e + e_offset + i * e_row_stride;
        __global const fk_store_t *cr = c + c_offset + col * c_row_stride;
        for (int k = 0; k < d; ++k) zt = fma(FK_SLOAD1(er + k * e_col_stride), FK_SLOAD1(cr + k * c_col_stride), zt);
        if (has_bias) zt += FK_SLOAD1(bias + bias_offset + col * bias_stride);
        if (cap > 0.0f) zt = cap * tanh(zt * (1.0f / cap));   // as cce_logit_row
    }
#if WG_SIZE > 1
    // GPU preset: one 16-byte store per token (stats: a buffer, 16-byte aligned)
    ((__global float4 *)stats)[i] = (float4)(m, dd, s, zt);
#else
    __global float *o = stats + 4 * (long)i;
    o[0] = m;
    o[1] = dd;
    o[2] = s;
    o[3] = zt;
#endif
}
