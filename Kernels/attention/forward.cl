// forward.cl — flash attention forward (OpenCL C 1.2): O = act(S)·V tile by
// tile, S never stored (attention/tiles.h gives the score semantics).
//
// attn_forward. LAUNCH RULE (3-D NDRange):
//   global = (ceil(lq/MWG)*NDIMC, heads*MDIMC, batch)   local = (NDIMC, MDIMC, 1)
//   group (t, h, b): query rows [t*MWG, t*MWG + MWG) of query head h, batch b,
//   reading key/value head h / heads_per_kv (heads_per_kv: query heads per
//   key/value head, the GQA ratio; 1 for plain multi-head attention). It
//   walks the key tiles of NWG keys that the causal/window band keeps for
//   its rows (the others are skipped) and per tile: z = Q·Kᵀ (gemm_tile),
//   scores and activation by the row owners, then acc += P·V.
//   * ATT_SOFTMAX 1: the online normalizer per row (m, l); the accumulator's
//     rows are rescaled by e^(m_old − m_new) before each P·V, divided by l
//     at the end; lse = m + ln l (−∞ and O = 0 for a row with no key kept).
//   * ATT_SOFTMAX 0: P = σ(s + sig_bias), nothing carried across tiles.
// Tensors (element strides >= 0, offsets in elements), per (b, h, row, col):
//   X(b, h, r, c) = x[x_offset + b*x_sb + h*x_sh + r*x_sl + c*x_sd] for
//   q, k, v, o; lse(b, h, r) = lse[lse_offset + b*lse_sb + h*lse_sh + r*lse_sl]
//   (written when ATT_SOFTMAX); masks add (float) and keep (uchar) likewise
//   with (_sb, _sh, _si, _sj) when has_add / has_keep; slopes[h] when has_alibi.
#include "attention/tiles.h"
#include "lib/online.h"

// scale·products in place, and their maximum
FK_INLINE float attn_scale_max_row(GEMM_TS float *zr, int nv, float scale)
{
    const int nv16 = nv & ~15;
    float16 mx16 = (float16)(-INFINITY);
    for (int c = 0; c < nv16; c += 16) {
        GEMM_TS float16 *p = (GEMM_TS float16 *)(zr + c);
        *p *= scale;
        mx16 = fk_max16(mx16, *p);
    }
    float mx = fk_hmax16(mx16);
    for (int c = nv16; c < nv; ++c) mx = fk_max(mx, zr[c] *= scale);
    return mx;
}

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void attn_forward(ATT_FORWARD_PARAMS)
{
    GEMM_TS float at[KWG * MWG] __attribute__((aligned(64)));
    GEMM_TS float bt[ATT_KV_TILE] __attribute__((aligned(64)));
    GEMM_TS float z[MWG * NWG] __attribute__((aligned(64)));
    GEMM_TS float row_f[MWG];

    const int i0 = (int)get_group_id(0) * MWG, h = (int)get_group_id(1), b = (int)get_group_id(2);
    const int hk = h / heads_per_kv, mv = min(MWG, lq - i0), lid = attn_lid(), shift = lk - lq;
    const attn_mask_t mk = {
        add + add_offset + b * add_sb + h * add_sh, keep + keep_offset + b * keep_sb + h * keep_sh,
        add_si, add_sj, keep_si, keep_sj, scale, has_alibi ? slopes[h] : 0.0f,
        has_add, has_keep, has_alibi, shift, left, right,
    };
    __global const fk_store_t *qh = q + q_offset + b * q_sb + h * q_sh + i0 * q_sl;
    __global const fk_store_t *kh = k + k_offset + b * k_sb + hk * k_sh;
    __global const fk_store_t *vh = v + v_offset + b * v_sb + hk * v_sh;
    // keys the band keeps for some row of the tile
    const int jlo = max(0, i0 + shift - left), jhi = min(lk, i0 + mv - 1 + shift + right + 1);

    gemm_vec_t acc[ATT_ACC_N];
    attn_acc_zero(acc);
#if ATT_SOFTMAX
    float m[ATT_ROWS], l[ATT_ROWS];
    for (int t = 0; t < ATT_ROWS; ++t) (m[t] = -INFINITY, l[t] = 0.0f);
#endif
    for (int j0 = jlo; j0 < jhi; j0 += NWG) {
        const int nv = min(NWG, jhi - j0);
        // z(r, c) = Q(i0 + r)·K(j0 + c): B(p, c) = K(j0 + c, p)
        gemm_tile(z, at, bt, qh, q_sl, q_sd, kh + j0 * k_sl, k_sd, k_sl, mv, nv, d);
        for (int t = 0; t < ATT_ROWS; ++t) {
            const int r = lid + t * GEMM_WG;
            if (r >= MWG) break;
            if (r >= mv) {
                row_f[r] = 1.0f;
                continue;
            }
            GEMM_TS float *zr = z + r * NWG;
#if ATT_SOFTMAX
            float mx;
            if (attn_plain_q(i0 + r, j0, nv, &mk)) {
                mx = attn_scale_max_row(zr, nv, scale);
            } else {
                attn_scores_q(zr, nv, i0 + r, j0, &mk);
                mx = -INFINITY;
                for (int c = 0; c < nv; ++c) mx = fk_max(mx, zr[c]);
            }
            const float mn = fk_max(m[t], mx), ms = fk_safe_max(mn);
            const int nv16 = nv & ~15;
            float16 e16 = (float16)0.0f;
            for (int c = 0; c < nv16; c += 16) {
                GEMM_TS float16 *p = (GEMM_TS float16 *)(zr + c);
                *p = fk_expneg16(*p - ms, 1.0f);
                e16 += *p;
            }
            float e = fk_hsum16(e16);
            for (int c = nv16; c < nv; ++c) e += (zr[c] = fk_expneg(zr[c] - ms, 1.0f));
            const float alpha = fk_exp(m[t] - ms);   // 0 while m is −∞
            l[t] = l[t] * alpha + e;
            m[t] = mn;
            row_f[r] = alpha;
#else
            attn_sigmoid_scores_q(zr, nv, i0 + r, j0, &mk, sig_bias);
#endif
        }
        GEMM_BARRIER();
#if ATT_SOFTMAX
        attn_acc_scale_rows(acc, row_f);
#endif
        // acc += P·V: B(p, c) = V(j0 + p, c)
        attn_acc_product(acc, z, bt, vh + j0 * v_sl, v_sl, v_sd, mv, nv, d);
    }
#if ATT_SOFTMAX
    GEMM_BARRIER();
    for (int t = 0; t < ATT_ROWS; ++t) {
        const int r = lid + t * GEMM_WG;
        if (r >= MWG) break;
        if (r >= mv) {
            row_f[r] = 1.0f;
            continue;
        }
        // no key kept: O = 0, lse = −∞; a NaN score left l NaN, and its row NaN
        row_f[r] = l[t] == 0.0f ? 0.0f : 1.0f / l[t];
        lse[lse_offset + b * lse_sb + h * lse_sh + (i0 + r) * lse_sl] = l[t] == 0.0f ? -INFINITY : m[t] + log(l[t]);
    }
    GEMM_BARRIER();
    gemm_store(acc, ATT_LDR, o + o_offset + b * o_sb + h * o_sh + i0 * o_sl, o_sl, o_sd, mv, d, 1.0f, row_f, 0.0f);
#else
    gemm_store(acc, ATT_LDR, o + o_offset + b * o_sb + h * o_sh + i0 * o_sl, o_sl, o_sd, mv, d, 1.0f, 0, 0.0f);
#endif
}
