// forward_gpu.cl — flash attention forward, the GPU preset (OpenCL C 1.2):
// FlashAttention-2's loop in plain OpenCL (attention/flash.h gives the item
// layout and the tiles; forward.cl the arguments, which are the same, and the
// score semantics).
//
// attn_forward. LAUNCH RULE (3-D NDRange):
//   global = (ceil(lq/ATT_BM)*ATT_WG, heads, batch)   local = (ATT_WG, 1, 1)
//   group (t, h, b): query rows [t*BM, t*BM + BM) of query head h, batch b,
//   key/value head h / heads_per_kv.
// Q is staged once, times scale·log2(e), in qs (the activation runs in
// base 2, exp2). Per key tile of BN keys that the band keeps for the
// group's rows, four barriers:
//   stage K in kv                                               | B1
//   s = Q·Kᵀ (each item RM rows × 4 keys, registers); softmax: the
//   item's RM row maxima to xm[tx]                              | B2 (K read)
//   stage V in kv; softmax: the row maxima m from xm (every item
//   of a row reads the same ATT_TN values), p = 2^(s − m) (attn_exp2), the
//   item's share of l, acc *= 2^(m_old − m); sigmoid: p = σ
//   (attn_sigmoid_log2);
//   pᵀ to pt                                                     | B3
//   acc += P·V (pt, kv)                                          | B4 (kv, pt, xm read)
// After the last tile the items of a row add their shares of l through xm
// (one barrier), and store O = acc/l and lse = ln 2·(m + log2 l).
#include "attention/flash.h"

__kernel __attribute__((reqd_work_group_size(ATT_WG, 1, 1)))
void attn_forward(ATT_FORWARD_PARAMS)
{
    __local float4 qs[ATT_BM * ATT_LD4];
    __local float4 kv[ATT_BN * ATT_LD4];
    __local float pt[ATT_BN * ATT_LDT] __attribute__((aligned(16)));
#if ATT_SOFTMAX
    __local float xm[ATT_TN * ATT_LDT] __attribute__((aligned(16)));
#endif

    const int lid = (int)get_local_id(0), tx = lid % ATT_TN, ty = lid / ATT_TN;
    const int i0 = (int)get_group_id(0) * ATT_BM, h = (int)get_group_id(1), b = (int)get_group_id(2);
    const int hk = h / heads_per_kv, mv = min(ATT_BM, lq - i0), shift = lk - lq;
    const attn_mask_t mk = {
        add + add_offset + b * add_sb + h * add_sh, keep + keep_offset + b * keep_sb + h * keep_sh,
        add_si, add_sj, keep_si, keep_sj, scale, has_alibi ? slopes[h] : 0.0f,
        has_add, has_keep, has_alibi, shift, left, right,
    };
    const int plain_masks = !ATT_MASKS || (!has_add && !has_keep && !has_alibi);
    __global const fk_store_t *qh = q + q_offset + b * q_sb + h * q_sh + i0 * q_sl;
    __global const fk_store_t *kh = k + k_offset + b * k_sb + hk * k_sh;
    __global const fk_store_t *vh = v + v_offset + b * v_sb + hk * v_sh;
    // keys the band keeps for some row of the group
    const int jlo = max(0, i0 + shift - left), jhi = min(lk, i0 + mv - 1 + shift + right + 1);
    // the band keeps every key of [j0, j0 + BN) for every row of the group when
    // j0 >= (last row) + shift − left and j0 + BN − 1 <= (first row) + shift + right
    const int plo = i0 + mv - 1 + shift - left, phi = i0 + shift + right - (ATT_BN - 1);
    __global fk_store_t *oh = o + o_offset + b * o_sb + h * o_sh + i0 * o_sl;

    ATT_STAGE(qs, ATT_BM, qh, q_sl, q_sd, mv, d, scale * ATT_LOG2E);

    float4 acc[ATT_RM][ATT_NU];
    for (int a = 0; a < ATT_RM; ++a)
        for (int u = 0; u < ATT_NU; ++u) acc[a][u] = (float4)0.0f;
#if ATT_SOFTMAX
    float m[ATT_RM], l[ATT_RM];
    for (int a = 0; a < ATT_RM; ++a) (m[a] = -INFINITY, l[a] = 0.0f);
#endif
    for (int j0 = jlo; j0 < jhi; j0 += ATT_BN) {
        const int nv = min(ATT_BN, jhi - j0);
        ATT_STAGE(kv, ATT_BN, kh + j0 * k_sl, k_sl, k_sd, nv, d, 1.0f);
        barrier(CLK_LOCAL_MEM_FENCE);   // B1: K (and, the first time, Q) staged

        float s[ATT_RM][4];
        attn_tile_abt(s, qs, kv, ty, tx);
        if (!(plain_masks && nv == ATT_BN && j0 >= plo && j0 <= phi))
            attn_scores_tile(s, i0 + ATT_RM * ty, j0 + tx, lq, jhi, &mk);
#if ATT_SOFTMAX
        {
            float mx[ATT_RM];
            for (int a = 0; a < ATT_RM; ++a) mx[a] = fmax(fmax(s[a][0], s[a][1]), fmax(s[a][2], s[a][3]));
            *ATT_RVP(xm, tx, ty) = ATT_RV(mx);
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);   // B2: every item read K; the row maxima are in xm

        ATT_STAGE(kv, ATT_BN, vh + j0 * v_sl, v_sl, v_sd, nv, d, 1.0f);
#if ATT_SOFTMAX
        attn_rv_t mt = *ATT_RVP(xm, 0, ty);
        for (int x = 1; x < ATT_TN; ++x) mt = fmax(mt, *ATT_RVP(xm, x, ty));
        for (int a = 0; a < ATT_RM; ++a) {
            const float mn = fmax(m[a], ATT_RV_AT(mt, a)), ms = mn == -INFINITY ? 0.0f : mn;
            const float alpha = attn_exp2(m[a] - ms);   // 0 while m is −∞
            float e = 0.0f;
            for (int c = 0; c < 4; ++c) e += (s[a][c] = attn_exp2(s[a][c] - ms));
            l[a] = fma(l[a], alpha, e);
            m[a] = mn;
            for (int u = 0; u < ATT_NU; ++u) acc[a][u] *= alpha;
        }
#else
        const float gb = ATT_LOG2E * sig_bias;
        for (int a = 0; a < ATT_RM; ++a)
            for (int c = 0; c < 4; ++c) s[a][c] = attn_sigmoid_log2(s[a][c] + gb);
#endif
        for (int c = 0; c < 4; ++c) {
            float pc[ATT_RM];
            for (int a = 0; a < ATT_RM; ++a) pc[a] = s[a][c];
            *ATT_RVP(pt, tx + ATT_TN * c, ty) = ATT_RV(pc);
        }
        barrier(CLK_LOCAL_MEM_FENCE);   // B3: V and P staged

        attn_tile_ptb(acc, pt, kv, ATT_BN, ty, tx);
        barrier(CLK_LOCAL_MEM_FENCE);   // B4: kv, pt and xm read
    }
    float f[ATT_RM];
#if ATT_SOFTMAX
    // the row sums: the ATT_TN items of a row add their shares
    *ATT_RVP(xm, tx, ty) = ATT_RV(l);
    barrier(CLK_LOCAL_MEM_FENCE);
    attn_rv_t lt = *ATT_RVP(xm, 0, ty);
    for (int x = 1; x < ATT_TN; ++x) lt += *ATT_RVP(xm, x, ty);
    __global float *lseh = lse + lse_offset + b * lse_sb + h * lse_sh + i0 * lse_sl;
    for (int a = 0; a < ATT_RM; ++a) {
        // no key kept: O = 0, lse = −∞; a NaN score left l NaN, and its row NaN
        const float la = ATT_RV_AT(lt, a);
        f[a] = la == 0.0f ? 0.0f : 1.0f / la;
        const int r = ATT_RM * ty + a;
        if (tx == 0 && r < mv) lseh[r * lse_sl] = la == 0.0f ? -INFINITY : ATT_LN2 * (m[a] + log2(la));
    }
#else
    for (int a = 0; a < ATT_RM; ++a) f[a] = 1.0f;
#endif
    attn_store_acc(acc, f, oh, o_sl, o_sd, mv, d, ty, tx);
}
