// backward.cl — flash attention backward (OpenCL C 1.2): dQ, dK, dV from dO,
// recomputing the probabilities tile by tile (attention/tiles.h gives the
// score semantics; forward.cl the tensor and mask arguments).
//   P = σ(s + sig_bias) (ATT_SOFTMAX 0) or e^(s − lse) (ATT_SOFTMAX 1)
//   dP = dO·Vᵀ;  dS = dP·P·(1 − P)  or  P·(dP − Δ), Δ_i = Σ_c dO_ic·O_ic
//   dQ = scale·dS·K;  dK = scale·dSᵀ·Q;  dV = Pᵀ·dO
// Every output tile has one owner: no atomics, the same sums in the same
// order on every run.
//
// attn_delta: one item per row (global = round_up(rows, WG_SIZE), local
//   WG_SIZE), rows = batch*heads*lq in (b, h, i) order: delta[row] = Δ.
// attn_backward_query. LAUNCH RULE: as attn_forward (query tiles × heads ×
//   batch); per key tile in the rows' band: z = Q·Kᵀ → P, z2 = dO·Vᵀ → dS,
//   acc += dS·K; dQ = scale·acc.
// attn_backward_kv. LAUNCH RULE (3-D NDRange):
//   global = (ceil(lk/MWG)*NDIMC, kv_heads*MDIMC, batch)   local = (NDIMC, MDIMC, 1)
//   group (t, hk, b): key rows [t*MWG, t*MWG + MWG) of key/value head hk.
//   For its query heads hk*heads_per_kv .. in order, and their query tiles of NWG
//   rows in the band in order: z = K·Qᵀ → Pᵀ, accV += Pᵀ·dO, z2 = V·dOᵀ →
//   dSᵀ, accK += dSᵀ·Q; dK = scale·accK, dV = accV.
#include "attention/tiles.h"

#ifndef WG_SIZE
#define WG_SIZE 1
#endif

// ATT_BACKWARD_PARAMS and ATT_MASK_OF: attention/params.h

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void attn_delta(__global const fk_store_t *o, long o_offset, long o_sb, long o_sh, long o_sl, long o_sd,
                __global const fk_store_t *dout, long dout_offset, long dout_sb, long dout_sh, long dout_sl, long dout_sd,
                int heads, int lq, int d, int rows, __global float *delta)
{
    const int row = (int)get_global_id(0);
    if (row >= rows) return;
    const int i = row % lq, h = row / lq % heads, b = row / lq / heads;
    __global const fk_store_t *orow = o + o_offset + b * o_sb + h * o_sh + i * o_sl;
    __global const fk_store_t *grow = dout + dout_offset + b * dout_sb + h * dout_sh + i * dout_sl;
    float s = 0.0f;
    for (int c = 0; c < d; ++c) s = fma(FK_SLOAD1(orow + c * o_sd), FK_SLOAD1(grow + c * dout_sd), s);
    delta[row] = s;
}

// dS in place of dP (z2 row) from P (z row), for columns c < nv; delta: the
// row's Δ (rows are queries) or NULL with per-column deltas dcol (rows are keys)
FK_INLINE void attn_ds_row(GEMM_TS float *dp, GEMM_TS const float *p, int nv, float delta,
                           GEMM_TS const float *dcol)
{
    for (int c = 0; c < nv; ++c) {
#if ATT_SOFTMAX
        dp[c] = p[c] * (dp[c] - (dcol ? dcol[c] : delta));
#else
        dp[c] = dp[c] * p[c] * (1.0f - p[c]);
#endif
    }
}

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void attn_backward_query(ATT_BACKWARD_PARAMS,
                         __global fk_store_t *dq, long dq_offset, long dq_sb, long dq_sh, long dq_sl, long dq_sd)
{
    GEMM_TS float at[KWG * MWG] __attribute__((aligned(64)));
    GEMM_TS float bt[ATT_KV_TILE] __attribute__((aligned(64)));
    GEMM_TS float z[MWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float z2[MWG * NWG] __attribute__((aligned(64)));

    const int i0 = (int)get_group_id(0) * MWG, h = (int)get_group_id(1), b = (int)get_group_id(2);
    const int hk = h / heads_per_kv, mv = min(MWG, lq - i0), lid = attn_lid(), shift = lk - lq;
    const attn_mask_t mk = ATT_MASK_OF(b, h);
    __global const fk_store_t *qh = q + q_offset + b * q_sb + h * q_sh + i0 * q_sl;
    __global const fk_store_t *gh = dout + dout_offset + b * dout_sb + h * dout_sh + i0 * dout_sl;
    __global const fk_store_t *kh = k + k_offset + b * k_sb + hk * k_sh;
    __global const fk_store_t *vh = v + v_offset + b * v_sb + hk * v_sh;
    const int jlo = max(0, i0 + shift - left), jhi = min(lk, i0 + mv - 1 + shift + right + 1);

    // the owned rows' log-sum-exp and Δ
    float row_lse[ATT_ROWS], row_delta[ATT_ROWS];
    for (int t = 0; t < ATT_ROWS; ++t) {
        const int r = lid + t * GEMM_WG;
        const long row = ((long)b * heads + h) * lq + i0 + r;
        row_lse[t] = (ATT_SOFTMAX && r < mv) ? lse[lse_offset + b * lse_sb + h * lse_sh + (i0 + r) * lse_sl] : 0.0f;
        row_delta[t] = (ATT_SOFTMAX && r < mv) ? delta[row] : 0.0f;
    }
    gemm_vec_t acc[ATT_ACC_N];
    attn_acc_zero(acc);
    for (int j0 = jlo; j0 < jhi; j0 += NWG) {
        const int nv = min(NWG, jhi - j0);
        gemm_tile(z, at, bt, qh, q_sl, q_sd, kh + j0 * k_sl, k_sd, k_sl, mv, nv, d);
        gemm_tile(z2, at, bt, gh, dout_sl, dout_sd, vh + j0 * v_sl, v_sd, v_sl, mv, nv, d);
        for (int t = 0; t < ATT_ROWS; ++t) {
            const int r = lid + t * GEMM_WG;
            if (r >= mv) break;
            GEMM_TS float *zr = z + r * NWG;
#if ATT_SOFTMAX
            const int plain = attn_plain_q(i0 + r, j0, nv, &mk);
            if (!plain) attn_scores_q(zr, nv, i0 + r, j0, &mk);
            attn_softmax_row(zr, nv, plain ? scale : 1.0f, row_lse[t]);
#else
            attn_sigmoid_scores_q(zr, nv, i0 + r, j0, &mk, sig_bias);
#endif
            attn_ds_row(z2 + r * NWG, zr, nv, row_delta[t], 0);
        }
        GEMM_BARRIER();
        // acc += dS·K: B(p, c) = K(j0 + p, c)
        attn_acc_product(acc, z2, bt, kh + j0 * k_sl, k_sl, k_sd, mv, nv, d);
    }
    GEMM_BARRIER();
    for (int t = 0; t < ATT_ROWS; ++t) {
        const int r = lid + t * GEMM_WG;
        if (r < MWG) z[r] = scale;
    }
    GEMM_BARRIER();
    gemm_store(acc, ATT_LDR, dq + dq_offset + b * dq_sb + h * dq_sh + i0 * dq_sl, dq_sl, dq_sd, mv, d, 1.0f, z, 0.0f);
}

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void attn_backward_kv(ATT_BACKWARD_PARAMS,
                      __global fk_store_t *dk, long dk_offset, long dk_sb, long dk_sh, long dk_sl, long dk_sd,
                      __global fk_store_t *dv, long dv_offset, long dv_sb, long dv_sh, long dv_sl, long dv_sd)
{
    GEMM_TS float at[KWG * MWG] __attribute__((aligned(64)));
    GEMM_TS float bt[ATT_KV_TILE] __attribute__((aligned(64)));
    GEMM_TS float z[MWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float z2[MWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float col_lse[NWG], col_delta[NWG];

    const int j0 = (int)get_group_id(0) * MWG, hk = (int)get_group_id(1), b = (int)get_group_id(2);
    const int mv = min(MWG, lk - j0), lid = attn_lid(), shift = lk - lq;
    __global const fk_store_t *kh = k + k_offset + b * k_sb + hk * k_sh + j0 * k_sl;
    __global const fk_store_t *vh = v + v_offset + b * v_sb + hk * v_sh + j0 * v_sl;
    // queries whose band keeps some key of the tile
    const int ilo = max(0, j0 - shift - right), ihi = min(lq, j0 + mv - 1 - shift + left + 1);

    gemm_vec_t acc_k[ATT_ACC_N], acc_v[ATT_ACC_N];
    attn_acc_zero(acc_k);
    attn_acc_zero(acc_v);
    for (int h = hk * heads_per_kv; h < (hk + 1) * heads_per_kv; ++h) {
        const attn_mask_t mk = ATT_MASK_OF(b, h);
        __global const fk_store_t *qh = q + q_offset + b * q_sb + h * q_sh;
        __global const fk_store_t *gh = dout + dout_offset + b * dout_sb + h * dout_sh;
        for (int i0 = ilo; i0 < ihi; i0 += NWG) {
            const int nv = min(NWG, ihi - i0);
            GEMM_BARRIER();   // the previous tile's readers of col_lse, col_delta
            for (int c = lid; c < NWG; c += GEMM_WG) {
                const long row = ((long)b * heads + h) * lq + i0 + c;
                col_lse[c] = (ATT_SOFTMAX && c < nv) ? lse[lse_offset + b * lse_sb + h * lse_sh + (i0 + c) * lse_sl] : 0.0f;
                col_delta[c] = (ATT_SOFTMAX && c < nv) ? delta[row] : 0.0f;
            }
            // z(r, c) = K(j0 + r)·Q(i0 + c), z2(r, c) = V(j0 + r)·dO(i0 + c)
            gemm_tile(z, at, bt, kh, k_sl, k_sd, qh + i0 * q_sl, q_sd, q_sl, mv, nv, d);
            gemm_tile(z2, at, bt, vh, v_sl, v_sd, gh + i0 * dout_sl, dout_sd, dout_sl, mv, nv, d);
            for (int t = 0; t < ATT_ROWS; ++t) {
                const int r = lid + t * GEMM_WG;
                if (r >= mv) break;
                GEMM_TS float *zr = z + r * NWG;
                const int plain = attn_plain_k(j0 + r, i0, nv, &mk);
                if (!plain) attn_scores_k(zr, nv, j0 + r, i0, &mk);
                const float a = plain ? scale : 1.0f;
#if ATT_SOFTMAX
                for (int c = 0; c < nv; ++c)   // a fully masked query row has lse = −∞ and P = 0
                    zr[c] = col_lse[c] == -INFINITY ? 0.0f : fk_expneg(fma(zr[c], a, -col_lse[c]), 1.0f);
#else
                attn_sigmoid_row(zr, nv, a, sig_bias);
#endif
                attn_ds_row(z2 + r * NWG, zr, nv, 0.0f, col_delta);
            }
            GEMM_BARRIER();
            // accV += Pᵀ·dO, accK += dSᵀ·Q: B(p, c) = dO(i0 + p, c), Q(i0 + p, c)
            attn_acc_product(acc_v, z, bt, gh + i0 * dout_sl, dout_sl, dout_sd, mv, nv, d);
            attn_acc_product(acc_k, z2, bt, qh + i0 * q_sl, q_sl, q_sd, mv, nv, d);
        }
    }
    GEMM_BARRIER();
    for (int t = 0; t < ATT_ROWS; ++t) {
        const int r = lid + t * GEMM_WG;
        if (r < MWG) z[r] = scale;
    }
    GEMM_BARRIER();
    gemm_store(acc_k, ATT_LDR, dk + dk_offset + b * dk_sb + hk * dk_sh + j0 * dk_sl, dk_sl, dk_sd, mv, d, 1.0f, z, 0.0f);
    gemm_store(acc_v, ATT_LDR, dv + dv_offset + b * dv_sb + hk * dv_sh + j0 * dv_sl, dv_sl, dv_sd, mv, d, 1.0f, 0, 0.0f);
}
