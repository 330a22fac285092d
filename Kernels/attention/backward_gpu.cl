// backward_gpu.cl — flash attention backward, the GPU preset (OpenCL C 1.2):
// FlashAttention-2's backward in plain OpenCL (attention/flash.h gives the
// item layout and tiles; backward.cl the formulas, arguments and the launch
// of attn_delta, which are the same):
//   P = σ(s + sig_bias) or e^(s − lse);  dP = dO·Vᵀ
//   dS = dP·P·(1 − P)  or  P·(dP − Δ);  dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO
// Scores run in base 2 (operands times scale·log2(e), lse times log2(e)).
// Every output tile has one owner: no atomics, the same sums in the same
// order on every run. The two gradient kernels are built with their own
// tiles (ATT_BM, ATT_BN, ATT_RM differ), each in its own program:
// ATT_PASS 1 holds attn_delta and attn_backward_query, ATT_PASS 2
// attn_backward_kv (one kernel's __local arrays at the other's tiles may not
// fit the device, and a GPU compiler rejects the whole program then).
//
// attn_backward_query. LAUNCH RULE: global = (ceil(lq/BM)*ATT_WG, heads,
//   batch), local = (ATT_WG, 1, 1); group (t, h, b): query rows
//   [t*BM, t*BM + BM). Q (times scale·log2(e)) and dO staged once; per key
//   tile in the rows' band, three barriers:
//     stage K, V                                                   | B1
//     s = Q·Kᵀ, dp = dO·Vᵀ (registers) → P → dS; dSᵀ to pt       | B2
//     acc += dS·K (pt, K tile)                                    | B3
//   dQ = scale·acc.
// attn_backward_kv. LAUNCH RULE: global = (ceil(lk/BM)*ATT_WG, kv_heads,
//   batch), local = (ATT_WG, 1, 1); group (t, hk, b): key rows
//   [t*BM, t*BM + BM) of key/value head hk. K (times scale·log2(e)) and V
//   staged once; for its query heads hk*heads_per_kv .. in order and their
//   query tiles of BN in the band in order, three barriers:
//     stage Q, dO, the tile's lse·log2(e) and Δ                    | B1
//     sᵀ = K·Qᵀ, dpᵀ = V·dOᵀ (registers) → Pᵀ → dSᵀ; to pt, dt   | B2
//     accV += Pᵀ·dO (pt, dO tile), accK += dSᵀ·Q (dt, Q tile)      | B3
//   dK = scale·accK, dV = accV.
#include "attention/flash.h"

#ifndef WG_SIZE
#define WG_SIZE 64
#endif

// ATT_BACKWARD_PARAMS and ATT_MASK_OF: attention/params.h

#if !defined(ATT_PASS) || ATT_PASS == 1
// attn_delta: one item per row (global = round_up(rows, WG_SIZE), local
// WG_SIZE), rows = batch*heads*lq in (b, h, i) order: delta[row] = Σ_c dO·O.
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
#endif

// P and dS in place of the base-2 scores s and dp for one element: lse2 the
// query's lse·log2(e) (−∞: the row keeps no key, P = 0), dl its Δ
FK_INLINE void attn_p_ds(float *s, float *dp, float lse2, float dl, float gb)
{
#if ATT_SOFTMAX
    const float p = lse2 == -INFINITY ? 0.0f : attn_exp2(*s - lse2);
    *dp = p * (*dp - dl);
#else
    const float p = attn_sigmoid_log2(*s + gb);
    *dp = *dp * p * (1.0f - p);
#endif
    *s = p;
}

#if !defined(ATT_PASS) || ATT_PASS == 1
__kernel __attribute__((reqd_work_group_size(ATT_WG, 1, 1)))
void attn_backward_query(ATT_BACKWARD_PARAMS,
                         __global fk_store_t *dq, long dq_offset, long dq_sb, long dq_sh, long dq_sl, long dq_sd)
{
    __local float4 qs[ATT_BM * ATT_LD4];
    __local float4 gs[ATT_BM * ATT_LD4];
    __local float4 ks[ATT_BN * ATT_LD4];
    __local float4 vs[ATT_BN * ATT_LD4];
    __local float pt[ATT_BN * ATT_LDT] __attribute__((aligned(16)));

    const int lid = (int)get_local_id(0), tx = lid % ATT_TN, ty = lid / ATT_TN;
    const int i0 = (int)get_group_id(0) * ATT_BM, h = (int)get_group_id(1), b = (int)get_group_id(2);
    const int hk = h / heads_per_kv, mv = min(ATT_BM, lq - i0), shift = lk - lq;
    const attn_mask_t mk = ATT_MASK_OF(b, h);
    const int plain_masks = !ATT_MASKS || (!has_add && !has_keep && !has_alibi);
    __global const fk_store_t *kh = k + k_offset + b * k_sb + hk * k_sh;
    __global const fk_store_t *vh = v + v_offset + b * v_sb + hk * v_sh;
    const int jlo = max(0, i0 + shift - left), jhi = min(lk, i0 + mv - 1 + shift + right + 1);
    const int plo = i0 + mv - 1 + shift - left, phi = i0 + shift + right - (ATT_BN - 1);
    const float gb = ATT_LOG2E * sig_bias;
    // the output's base now: the kernel's arguments are loaded on entry and held to
    // their last use (fewer scalar registers across the loop than offset and strides)
    __global fk_store_t *dqh = dq + dq_offset + b * dq_sb + h * dq_sh + i0 * dq_sl;

    ATT_STAGE(qs, ATT_BM, q + q_offset + b * q_sb + h * q_sh + i0 * q_sl, q_sl, q_sd, mv, d, scale * ATT_LOG2E);
    ATT_STAGE(gs, ATT_BM, dout + dout_offset + b * dout_sb + h * dout_sh + i0 * dout_sl, dout_sl, dout_sd, mv, d, 1.0f);
    // the owned rows' lse·log2(e) and Δ
    float rl[ATT_RM], rd[ATT_RM];
    for (int a = 0; a < ATT_RM; ++a) {
        const int r = ATT_RM * ty + a;
        rl[a] = (ATT_SOFTMAX && r < mv) ? ATT_LOG2E * lse[lse_offset + b * lse_sb + h * lse_sh + (i0 + r) * lse_sl]
                                        : -INFINITY;
        rd[a] = (ATT_SOFTMAX && r < mv) ? delta[((long)b * heads + h) * lq + i0 + r] : 0.0f;
    }
    float4 acc[ATT_RM][ATT_NU];
    for (int a = 0; a < ATT_RM; ++a)
        for (int u = 0; u < ATT_NU; ++u) acc[a][u] = (float4)0.0f;

    for (int j0 = jlo; j0 < jhi; j0 += ATT_BN) {
        const int nv = min(ATT_BN, jhi - j0);
        ATT_STAGE(ks, ATT_BN, kh + j0 * k_sl, k_sl, k_sd, nv, d, 1.0f);
        ATT_STAGE(vs, ATT_BN, vh + j0 * v_sl, v_sl, v_sd, nv, d, 1.0f);
        barrier(CLK_LOCAL_MEM_FENCE);   // B1: K, V (and, the first time, Q, dO) staged

        float s[ATT_RM][4], dp[ATT_RM][4];
        attn_tile_abt(s, qs, ks, ty, tx);
        attn_tile_abt(dp, gs, vs, ty, tx);
        if (!(plain_masks && nv == ATT_BN && j0 >= plo && j0 <= phi))
            attn_scores_tile(s, i0 + ATT_RM * ty, j0 + tx, lq, jhi, &mk);
        for (int a = 0; a < ATT_RM; ++a)
            for (int c = 0; c < 4; ++c) attn_p_ds(&s[a][c], &dp[a][c], rl[a], rd[a], gb);
        for (int c = 0; c < 4; ++c) {
            float pc[ATT_RM];
            for (int a = 0; a < ATT_RM; ++a) pc[a] = dp[a][c];
            *ATT_RVP(pt, tx + ATT_TN * c, ty) = ATT_RV(pc);
        }
        barrier(CLK_LOCAL_MEM_FENCE);   // B2: dSᵀ in pt

        attn_tile_ptb(acc, pt, ks, ATT_BN, ty, tx);
        barrier(CLK_LOCAL_MEM_FENCE);   // B3: ks, vs and pt read
    }
    float f[ATT_RM];
    for (int a = 0; a < ATT_RM; ++a) f[a] = scale;
    attn_store_acc(acc, f, dqh, dq_sl, dq_sd, mv, d, ty, tx);
}
#endif

#if !defined(ATT_PASS) || ATT_PASS == 2
__kernel __attribute__((reqd_work_group_size(ATT_WG, 1, 1)))
void attn_backward_kv(ATT_BACKWARD_PARAMS,
                      __global fk_store_t *dk, long dk_offset, long dk_sb, long dk_sh, long dk_sl, long dk_sd,
                      __global fk_store_t *dv, long dv_offset, long dv_sb, long dv_sh, long dv_sl, long dv_sd)
{
    __local float4 ks[ATT_BM * ATT_LD4];
    __local float4 vs[ATT_BM * ATT_LD4];
    __local float4 qs[ATT_BN * ATT_LD4];
    __local float4 gs[ATT_BN * ATT_LD4];
    __local float pt[ATT_BN * ATT_LDT] __attribute__((aligned(16)));
    __local float dt[ATT_BN * ATT_LDT] __attribute__((aligned(16)));
    __local float cl[ATT_BN], cd[ATT_BN];

    const int lid = (int)get_local_id(0), tx = lid % ATT_TN, ty = lid / ATT_TN;
    const int j0 = (int)get_group_id(0) * ATT_BM, hk = (int)get_group_id(1), b = (int)get_group_id(2);
    const int mv = min(ATT_BM, lk - j0), shift = lk - lq;
    // queries whose band keeps some key of the group
    const int ilo = max(0, j0 - shift - right), ihi = min(lq, j0 + mv - 1 - shift + left + 1);
    // the band keeps every (key, query) of the group and [i0, i0 + BN) when
    // i0 >= (last key) − shift − right and i0 + BN − 1 <= (first key) − shift + left
    const int plo = j0 + mv - 1 - shift - right, phi = j0 - shift + left - (ATT_BN - 1);
    const float gb = ATT_LOG2E * sig_bias;
    __global fk_store_t *dkh = dk + dk_offset + b * dk_sb + hk * dk_sh + j0 * dk_sl;
    __global fk_store_t *dvh = dv + dv_offset + b * dv_sb + hk * dv_sh + j0 * dv_sl;
    __global const float *lseb = lse + lse_offset + b * lse_sb;
    __global const float *deltab = delta + (long)b * heads * lq;

    ATT_STAGE(ks, ATT_BM, k + k_offset + b * k_sb + hk * k_sh + j0 * k_sl, k_sl, k_sd, mv, d, scale * ATT_LOG2E);
    ATT_STAGE(vs, ATT_BM, v + v_offset + b * v_sb + hk * v_sh + j0 * v_sl, v_sl, v_sd, mv, d, 1.0f);
    float4 acc_k[ATT_RM][ATT_NU], acc_v[ATT_RM][ATT_NU];
    for (int a = 0; a < ATT_RM; ++a)
        for (int u = 0; u < ATT_NU; ++u) acc_k[a][u] = acc_v[a][u] = (float4)0.0f;

    for (int h = hk * heads_per_kv; h < (hk + 1) * heads_per_kv; ++h) {
        const attn_mask_t mk = ATT_MASK_OF(b, h);
        const int plain_masks = !ATT_MASKS || (!has_add && !has_keep && !has_alibi);
        __global const fk_store_t *qh = q + q_offset + b * q_sb + h * q_sh;
        __global const fk_store_t *gh = dout + dout_offset + b * dout_sb + h * dout_sh;
        __global const float *lseh = lseb + h * lse_sh, *deltah = deltab + (long)h * lq;
        for (int i0 = ilo; i0 < ihi; i0 += ATT_BN) {
            const int nv = min(ATT_BN, ihi - i0);
            ATT_STAGE(qs, ATT_BN, qh + i0 * q_sl, q_sl, q_sd, nv, d, 1.0f);
            ATT_STAGE(gs, ATT_BN, gh + i0 * dout_sl, dout_sl, dout_sd, nv, d, 1.0f);
            for (int c = lid; c < ATT_BN; c += ATT_WG) {
                cl[c] = (ATT_SOFTMAX && c < nv) ? ATT_LOG2E * lseh[(i0 + c) * lse_sl] : -INFINITY;
                cd[c] = (ATT_SOFTMAX && c < nv) ? deltah[i0 + c] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);   // B1: Q, dO, lse, Δ (and, the first time, K, V) staged

            float s[ATT_RM][4], dp[ATT_RM][4];
            attn_tile_abt(s, ks, qs, ty, tx);
            attn_tile_abt(dp, vs, gs, ty, tx);
            if (!(plain_masks && nv == ATT_BN && i0 >= plo && i0 <= phi))
                attn_scores_tile_k(s, j0 + ATT_RM * ty, i0 + tx, lk, ihi, &mk);
            for (int c = 0; c < 4; ++c) {
                const int x = tx + ATT_TN * c;
                const float l2 = cl[x], dl = cd[x];
                float pc[ATT_RM], dc[ATT_RM];
                for (int a = 0; a < ATT_RM; ++a) {
                    attn_p_ds(&s[a][c], &dp[a][c], l2, dl, gb);
                    pc[a] = s[a][c];
                    dc[a] = dp[a][c];
                }
                *ATT_RVP(pt, x, ty) = ATT_RV(pc);
                *ATT_RVP(dt, x, ty) = ATT_RV(dc);
            }
            barrier(CLK_LOCAL_MEM_FENCE);   // B2: Pᵀ, dSᵀ in pt, dt

            attn_tile_ptb(acc_v, pt, gs, ATT_BN, ty, tx);
            attn_tile_ptb(acc_k, dt, qs, ATT_BN, ty, tx);
            barrier(CLK_LOCAL_MEM_FENCE);   // B3: qs, gs, pt, dt, cl, cd read
        }
    }
    float f[ATT_RM], one[ATT_RM];
    for (int a = 0; a < ATT_RM; ++a) (f[a] = scale, one[a] = 1.0f);
    attn_store_acc(acc_k, f, dkh, dk_sl, dk_sd, mv, d, ty, tx);
    attn_store_acc(acc_v, one, dvh, dv_sl, dv_sd, mv, d, ty, tx);
}
#endif
