// tiles.h — the tiles of flash attention (OpenCL C 1.2), shared by forward.cl
// and backward.cl, made of lib/gemm.h's tiles and micro-kernels:
// * a score tile z = A·Bᵀ over the head dimension (gemm_tile), turned into
//   scores in place by the row owners (attn_scores_*: scale, ALiBi, masks,
//   the causal/window band);
// * a private accumulator [MWG][ATT_DP] per group (O, dQ, dK or dV), an
//   item's share laid out as gemm.h's item results (ldr = ATT_LDR), that
//   adds z·B for a tile B of ATT_VB rows of D columns (attn_acc_product);
//   stored by gemm_store, scaled per row, rounded once to the storage type.
//
// Parameters (-D): gemm.h's MWG (tile rows), NWG (tile columns), KWG (the
// head-dimension block of the score products), MDIMC, NDIMC, VWN, MR, NR;
// ATT_DP: the head size D rounded up to a multiple of NR*NDIMC (and 16);
// DTYPE (lib/dtype.h); ATT_SOFTMAX: 1 softmax, 0 sigmoid.
//
// Score semantics (AttentionOptions): for query i and key j of head h,
//   s = scale·(Q_i·K_j) − slope_h·|i' − j| + add(i, j), i' = i + shift,
// and −∞ when keep(i, j) == 0 or j lies outside [i' − left, i' + right].
#ifndef FK_ATTENTION_TILES_H
#define FK_ATTENTION_TILES_H
#include "lib/common.h"
#include "lib/dtype.h"
#include "lib/gemm.h"
#include "attention/mask.h"
#include "attention/params.h"

#ifndef ATT_DP
#define ATT_DP 64
#endif
#ifndef ATT_SOFTMAX
#define ATT_SOFTMAX 1
#endif
#if ATT_DP % (NR * NDIMC) || ATT_DP % 16
#error "attention/tiles.h: ATT_DP must be a multiple of NR*NDIMC and of 16"
#endif
#if OUT_DTYPE != DTYPE
#error "attention/tiles.h: gemm_store writes fk_out_t, which must be the storage type"
#endif

// micro-tile columns of an accumulator row, an item's vectors per row, and in all
#define ATT_NJD (ATT_DP / (NR * NDIMC))
#define ATT_LDR (ATT_DP / (NDIMC * VWN))
#define ATT_ACC_N (MWI * ATT_LDR)
// rows of the B tile of attn_acc_product per step: all NWG columns of z at
// once on CPU devices, KWG at a time in __local memory on GPUs
#if GEMM_WG == 1
#define ATT_VB NWG
#else
#define ATT_VB KWG
#endif
#define ATT_KV_TILE (KWG * NWG > ATT_VB * ATT_DP ? KWG * NWG : ATT_VB * ATT_DP)
// rows of a tile owned by one item for the row epilogues (rows lid + q*GEMM_WG)
#define ATT_ROWS ((MWG + GEMM_WG - 1) / GEMM_WG)

FK_INLINE int attn_lid(void) { return (int)(get_local_id(1) * get_local_size(0) + get_local_id(0)); }

// scores in place of a row's nv products, element by element (the masked paths)
FK_INLINE void attn_scores_q(GEMM_TS float *zr, int nv, int i, int j0, const attn_mask_t *mk)
{
    for (int c = 0; c < nv; ++c) zr[c] = attn_score(zr[c], i, j0 + c, mk);
}

FK_INLINE void attn_scores_k(GEMM_TS float *zr, int nv, int j, int i0, const attn_mask_t *mk)
{
    for (int c = 0; c < nv; ++c) zr[c] = attn_score(zr[c], i0 + c, j, mk);
}

// ---------------------------------------------------------------------------
// Activations of a row in place
// ---------------------------------------------------------------------------

// σ(a·x + bias) = 1 / (1 + e^−(a·x + bias)) in place: a = 1 on scores,
// a = scale on plain products (one fma for the scale, the bias and the sign).
// −∞ gives 0, NaN stays NaN.
FK_INLINE void attn_sigmoid_row(GEMM_TS float *zr, int nv, float a, float bias)
{
    const int nv16 = nv & ~15;
    for (int c = 0; c < nv16; c += 16) {
        GEMM_TS float16 *p = (GEMM_TS float16 *)(zr + c);
        *p = 1.0f / (1.0f + fk_exp16(fma(*p, (float16)(-a), (float16)(-bias))));
    }
    for (int c = nv16; c < nv; ++c) zr[c] = 1.0f / (1.0f + fk_exp(fma(zr[c], -a, -bias)));
}

// the probabilities of a row (scores, or plain products when plain) in place
FK_INLINE void attn_sigmoid_scores_q(GEMM_TS float *zr, int nv, int i, int j0, const attn_mask_t *mk, float bias)
{
    const int plain = attn_plain_q(i, j0, nv, mk);
    if (!plain) attn_scores_q(zr, nv, i, j0, mk);
    attn_sigmoid_row(zr, nv, plain ? mk->scale : 1.0f, bias);
}

// e^(a·x − lse) in place, the probabilities of a row whose log-sum-exp is
// known (a as for attn_sigmoid_row); 0 for a fully masked row (lse = −∞)
FK_INLINE void attn_softmax_row(GEMM_TS float *zr, int nv, float a, float lse)
{
    const int nv16 = nv & ~15;
    if (lse == -INFINITY) {
        for (int c = 0; c < nv; ++c) zr[c] = 0.0f;
        return;
    }
    for (int c = 0; c < nv16; c += 16) {
        GEMM_TS float16 *p = (GEMM_TS float16 *)(zr + c);
        *p = fk_expneg16(fma(*p, (float16)a, (float16)(-lse)), 1.0f);
    }
    for (int c = nv16; c < nv; ++c) zr[c] = fk_expneg(fma(zr[c], a, -lse), 1.0f);
}

// ---------------------------------------------------------------------------
// Accumulators: acc[q*ATT_LDR + u] holds tile row q*MDIMC + ty, vector
// column u*NDIMC + tx (gemm.h's item results, ATT_DP columns wide).
// ---------------------------------------------------------------------------
FK_INLINE void attn_acc_zero(gemm_vec_t *acc)
{
    for (int t = 0; t < ATT_ACC_N; ++t) acc[t] = (gemm_vec_t)0.0f;
}

// multiplies each of the item's rows by f[row]
FK_INLINE void attn_acc_scale_rows(gemm_vec_t *acc, GEMM_TS const float *f)
{
    for (int q = 0; q < MWI; ++q) {
        const float s = f[q * MDIMC + (int)get_local_id(1)];
        #pragma unroll
        for (int u = 0; u < ATT_LDR; ++u) acc[q * ATT_LDR + u] *= s;
    }
}

// acc += z[:, :kv]·B, B(p, c) = b[p*b_rs + c*b_cs] for p < kv, c < d (rows of
// V, dO, K or Q), for the micro-tile rows that hold the mv valid rows (as
// gemm_tile computes them: the rows past mv in them are zero products, and
// their accumulator rows are never stored). Every item calls it (barriers).
FK_INLINE void attn_acc_product(gemm_vec_t *acc, GEMM_TS const float *z, GEMM_TS float *bt,
                                __global const fk_store_t *b, long b_rs, long b_cs, int mv, int kv, int d)
{
    const int ty = (int)get_local_id(1), tx = (int)get_local_id(0);
    const int nir = gemm_nir(mv);
    for (int p0 = 0; p0 < kv; p0 += ATT_VB) {
        const int kc = min(ATT_VB, kv - p0);
        GEMM_BARRIER();   // the previous block is consumed
        gemm_load_tile(bt, ATT_DP, (kc + GEMM_KSTEP - 1) / GEMM_KSTEP * GEMM_KSTEP, ATT_DP,
                       b + p0 * b_rs, b_rs, b_cs, kc, d);
        GEMM_BARRIER();
        for (int ir = 0; ir < nir; ++ir)
            for (int jr = 0; jr < ATT_NJD; ++jr)
                gemm_mk_ab_at(acc + ir * MR * ATT_LDR + jr * NRV, ATT_LDR, 0,
                              z + (ir * MR * MDIMC + ty) * NWG + p0, 1, MDIMC * NWG,
                              (GEMM_TS const gemm_vec_t *)bt + jr * NRV * NDIMC + tx, ATT_DP / VWN, NDIMC, kc);
    }
}

#endif // FK_ATTENTION_TILES_H
