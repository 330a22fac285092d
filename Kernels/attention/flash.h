// flash.h — the GPU preset of attention (OpenCL C 1.2), FlashAttention-2's
// structure in plain OpenCL (no lib/gemm.h): a group of ATT_WG items owns a
// block of ATT_BM rows (queries forward; keys in the backward's dK/dV pass) and
// walks the other side in blocks of ATT_BN, with every tile in `__local`
// memory and every product an item's 4 × 4 micro-tile in registers.
//
// Parameters (-D): ATT_BM, ATT_BN (multiples of 16), ATT_RM (rows of an
// item's micro-tile: 4, 2 or 1), ATT_DP (the head size D padded to a multiple
// of 4*ATT_TN), DTYPE (lib/dtype.h),
// ATT_SOFTMAX (1 softmax, 0 sigmoid), ATT_MASKS (0: the call has no additive
// or keep mask and no ALiBi, the kernels read none; the band is always applied).
//
// Items: lid = ty*ATT_TN + tx (ty < ATT_TM = BM/RM, tx < ATT_TN = BN/4).
// * item (ty, tx) owns block rows RM*ty .. RM*ty + RM − 1 (so the 32
//   consecutive items of a warp own 32/ATT_TN whole row groups: a warp's
//   rows are its own) and, of a score tile, columns tx + ATT_TN*c (c < 4);
// * of a [BM][DP] accumulator it owns the same 4 rows and the float4 columns
//   tx + ATT_TN*u (u < ATT_NU), i.e. elements 4*(tx + ATT_TN*u) .. + 3.
// Tiles in `__local` memory are float4 rows of ATT_LD4 = DP/4 + 1 vectors (the
// pad of one vector puts consecutive rows 16 bytes apart modulo 128 bytes:
// the 8 items of a 16-byte access phase reading 8 consecutive rows at one
// column hit 8 different bank quads); transposed score tiles [BN][BM] have
// rows of ATT_LDT = BM + 4 floats likewise, read and written as the RM-vector
// (attn_rv_t) of an item's rows.
#ifndef FK_ATTENTION_FLASH_H
#define FK_ATTENTION_FLASH_H
#include "lib/common.h"
#include "lib/dtype.h"
#include "attention/mask.h"
#include "attention/params.h"

#ifndef ATT_BM
#define ATT_BM 64
#endif
#ifndef ATT_BN
#define ATT_BN 64
#endif
#ifndef ATT_DP
#define ATT_DP 64
#endif
#ifndef ATT_SOFTMAX
#define ATT_SOFTMAX 1
#endif
#ifndef ATT_RM
#define ATT_RM 4
#endif
#define ATT_TM (ATT_BM / ATT_RM)
#define ATT_TN (ATT_BN / 4)
#define ATT_WG (ATT_TM * ATT_TN)
#define ATT_D4 (ATT_DP / 4)
#define ATT_LD4 (ATT_D4 + 1)
#define ATT_LDT (ATT_BM + 4)
#define ATT_NU (ATT_D4 / ATT_TN)
#if ATT_BM % 16 || ATT_BN % 16 || ATT_D4 % ATT_TN || 32 % ATT_TN || (ATT_RM != 4 && ATT_RM != 2 && ATT_RM != 1)
#error "attention/flash.h: BM, BN multiples of 16, DP a multiple of BN, BN/4 dividing 32, RM 4, 2 or 1"
#endif

// an item's RM rows as one vector: one `__local` access
#if ATT_RM == 4
typedef float4 attn_rv_t;
#define ATT_RV(x) ((attn_rv_t)((x)[0], (x)[1], (x)[2], (x)[3]))
#define ATT_RV_AT(v, a) ((a) == 0 ? (v).s0 : (a) == 1 ? (v).s1 : (a) == 2 ? (v).s2 : (v).s3)
#elif ATT_RM == 2
typedef float2 attn_rv_t;
#define ATT_RV(x) ((attn_rv_t)((x)[0], (x)[1]))
#define ATT_RV_AT(v, a) ((a) == 0 ? (v).s0 : (v).s1)
#else
typedef float attn_rv_t;
#define ATT_RV(x) ((x)[0])
#define ATT_RV_AT(v, a) (v)
#endif
#define ATT_RVP(t, p, ty) ((__local attn_rv_t *)((t) + (p) * ATT_LDT + (ty) * ATT_RM))

// log2(e) and ln(2): the softmax runs in base 2 (exp2) on scores scaled by log2(e)
#ifndef ATT_MASKS
#define ATT_MASKS 1
#endif
#ifndef ATT_UNROLL_K
#define ATT_UNROLL_K 1
#endif
#ifndef ATT_UNROLL_P
#define ATT_UNROLL_P 1
#endif

#define ATT_LOG2E 1.44269504088896341f
#define ATT_LN2 0.693147180559945309f

// Four consecutive stored elements as one vector access (element alignment is
// enough for vloadn/vstoren): a warp's lanes then read or write one contiguous
// span, every byte of each 32-byte sector used.
#if DTYPE == 0
#define ATT_SLOAD4(p) vload4(0, (p))
#define ATT_SSTORE4(v, p) vstore4((v), 0, (p))
#elif DTYPE == 1
#define ATT_SLOAD4(p) vload_half4(0, (p))
#define ATT_SSTORE4(v, p) vstore_half4_rte((v), 0, (p))
#else
#define ATT_SLOAD4(p) as_float4(convert_uint4(vload4(0, (p))) << 16)
#define ATT_SSTORE4(v, p) vstore4((ushort4)(fk_to_bf16((v).s0), fk_to_bf16((v).s1), fk_to_bf16((v).s2), \
                                            fk_to_bf16((v).s3)), 0, (p))
#endif

// Copies rows [0, nr) × columns [0, d) of X(r, c) = x[r*sr + c*sc] into the
// float4 tile t[R][ATT_LD4], times f, zeros elsewhere (rows up to R, columns
// up to ATT_DP): every item of the group, float4 stores, consecutive items on
// consecutive columns; one vector read per item where the row is contiguous
// (sc = 1), element reads at the row's tail and for strided views.
#define ATT_STAGE(t, R, x, sr, sc, nr, d, f) do {                                       \
    _Pragma("unroll 1")                                                                 \
    for (int e_ = (int)get_local_id(0); e_ < (R) * ATT_D4; e_ += ATT_WG) {             \
        const int r_ = e_ / ATT_D4, c_ = (e_ % ATT_D4) * 4;                            \
        float4 v_ = (float4)0.0f;                                                      \
        if (r_ < (nr)) {                                                               \
            __global const fk_store_t *p_ = (x) + r_ * (sr) + c_ * (sc);               \
            if ((sc) == 1 && c_ + 3 < (d)) {                                           \
                v_ = ATT_SLOAD4(p_);                                                   \
            } else {                                                                   \
                if (c_ < (d)) v_.s0 = FK_SLOAD1(p_);                                   \
                if (c_ + 1 < (d)) v_.s1 = FK_SLOAD1(p_ + (sc));                        \
                if (c_ + 2 < (d)) v_.s2 = FK_SLOAD1(p_ + 2 * (sc));                    \
                if (c_ + 3 < (d)) v_.s3 = FK_SLOAD1(p_ + 3 * (sc));                    \
            }                                                                          \
        }                                                                              \
        (t)[r_ * ATT_LD4 + c_ / 4] = v_ * (f);                                         \
    }                                                                                  \
} while (0)

// s[a][c] = Σ_d A(RM*ty + a, d)·B(tx + ATT_TN*c, d) over the float4 tiles
// a, b ([.][ATT_LD4]): per float4 column, RM + 4 `__local` loads for 16*RM fmas.
FK_INLINE void attn_tile_abt(float s[ATT_RM][4], __local const float4 *a, __local const float4 *b, int ty, int tx)
{
    for (int i = 0; i < ATT_RM; ++i)
        for (int c = 0; c < 4; ++c) s[i][c] = 0.0f;
    __local const float4 *ar = a + ATT_RM * ty * ATT_LD4, *br = b + tx * ATT_LD4;
    #pragma unroll ATT_UNROLL_K
    for (int k = 0; k < ATT_D4; ++k) {
        float4 av[ATT_RM];
        #pragma unroll
        for (int i = 0; i < ATT_RM; ++i) av[i] = ar[i * ATT_LD4 + k];
        #pragma unroll
        for (int c = 0; c < 4; ++c) {
            const float4 bv = br[c * ATT_TN * ATT_LD4 + k];
            #pragma unroll
            for (int i = 0; i < ATT_RM; ++i) {
                s[i][c] = fma(av[i].x, bv.x, s[i][c]);
                s[i][c] = fma(av[i].y, bv.y, s[i][c]);
                s[i][c] = fma(av[i].z, bv.z, s[i][c]);
                s[i][c] = fma(av[i].w, bv.w, s[i][c]);
            }
        }
    }
}

// acc[a][u] += Σ_p P(p, RM*ty + a)·B(p, tx + ATT_TN*u) for p < np: pt the
// transposed probabilities [BN][ATT_LDT] (the item's RM rows: one broadcast
// load), b a float4 tile [BN][ATT_LD4]: 1 + ATT_NU loads for 4*RM*ATT_NU
// fmas per p.
FK_INLINE void attn_tile_ptb(float4 acc[ATT_RM][ATT_NU], __local const float *pt, __local const float4 *b, int np,
                             int ty, int tx)
{
    #pragma unroll ATT_UNROLL_P
    for (int p = 0; p < np; ++p) {
        const attn_rv_t pv = *ATT_RVP(pt, p, ty);
        #pragma unroll
        for (int u = 0; u < ATT_NU; ++u) {
            const float4 bv = b[p * ATT_LD4 + tx + ATT_TN * u];
            #pragma unroll
            for (int a = 0; a < ATT_RM; ++a) acc[a][u] = fma((float4)ATT_RV_AT(pv, a), bv, acc[a][u]);
        }
    }
}

// The score of query i and key j from x, the product already times
// scale·log2(e): attn_score's semantics with every term times log2(e); −∞
// for a pair outside the band, or when ok is 0 (a query or key past its end:
// the masks are not read then). With ATT_MASKS 0 (no additive or keep mask,
// no ALiBi: the plan knows) only the band, whose test holds no mask state.
FK_INLINE float attn_score2(float x, int i, int j, int ok, const attn_mask_t *mk)
{
    const int ip = i + mk->shift;
    const int band = ok && j >= ip - mk->left && j <= ip + mk->right;
#if ATT_MASKS
    if (mk->has_alibi) x = fma(-ATT_LOG2E * mk->slope, (float)abs(ip - j), x);
    if (band && mk->has_add) x = fma(ATT_LOG2E, mk->add[i * mk->add_si + j * mk->add_sj], x);
    const int kept = band && (!mk->has_keep || mk->keep[i * mk->keep_si + j * mk->keep_sj]);
    return kept ? x : -INFINITY;
#else
    return band ? x : -INFINITY;
#endif
}

// the scores of an item's RM × 4 products s: rows queries i .. i + RM − 1
// (below iend), columns keys j + ATT_TN*c (below jend)
FK_INLINE void attn_scores_tile(float s[ATT_RM][4], int i, int j, int iend, int jend, const attn_mask_t *mk)
{
    for (int a = 0; a < ATT_RM; ++a)
        for (int c = 0; c < 4; ++c) {
            const int jc = j + ATT_TN * c;
            s[a][c] = attn_score2(s[a][c], i + a, jc, i + a < iend && jc < jend, mk);
        }
}

// the same with rows keys j .. j + RM − 1 (below jend), columns queries
// i + ATT_TN*c (below iend)
FK_INLINE void attn_scores_tile_k(float s[ATT_RM][4], int j, int i, int jend, int iend, const attn_mask_t *mk)
{
    for (int a = 0; a < ATT_RM; ++a)
        for (int c = 0; c < 4; ++c) {
            const int ic = i + ATT_TN * c;
            s[a][c] = attn_score2(s[a][c], ic, j + a, ic < iend && j + a < jend, mk);
        }
}

// 2^x: n = round(x) by the magic constant (whose low bits then hold n + 127),
// 2^(x − n) = e^t, t = (x − n)·ln 2 in [−ln2/2, ln2/2], by lib/common.h's
// degree-5 polynomial, times 2^n from the exponent bits. Fma and integer
// operations only (the same on every device; libclc's exp2, which the GPU
// compile checks link, is a software routine with divides). x < −126 (and
// −∞) gives 0, x > 127 (and +∞) +∞, NaN stays NaN; relative error ~2e-7.
FK_INLINE float attn_exp2(float x)
{
    const float k = x + FK_EXP_MAGICB;
    const float n = k - FK_EXP_MAGICB;
    const float t = (x - n) * ATT_LN2;
    float p = fma(FK_EXP_P5, t, FK_EXP_P4);
    p = fma(p, t, FK_EXP_P3);
    p = fma(p, t, FK_EXP_P2);
    p = fma(p, t, FK_EXP_P1);
    p = fma(p, t, 1.0f);
    const float y = p * as_float(as_uint(k) << 23);
    return x < -126.0f ? 0.0f : x > 127.0f ? INFINITY : y;
}

// σ(x) for a score x already times log2(e): 1/(1 + 2^−x) with the native
// reciprocal (no full-precision divide); −∞ gives 0 (the reciprocal of +∞),
// NaN stays NaN
FK_INLINE float attn_sigmoid_log2(float x) { return native_recip(1.0f + attn_exp2(-x)); }

// Stores rows [0, nr) × columns [0, d) of the accumulator acc (as owned by
// item (ty, tx)) times f[a] per row to Y(r, c) = y[r*sr + c*sc] (one vector
// write per float4 where the row is contiguous).
FK_INLINE void attn_store_acc(float4 acc[ATT_RM][ATT_NU], const float f[ATT_RM], __global fk_store_t *y, long sr,
                              long sc, int nr, int d, int ty, int tx)
{
    for (int a = 0; a < ATT_RM; ++a) {
        const int r = ATT_RM * ty + a;
        if (r >= nr) break;
        #pragma unroll
        for (int u = 0; u < ATT_NU; ++u) {
            const int c = 4 * (tx + ATT_TN * u);
            const float4 v = acc[a][u] * f[a];
            __global fk_store_t *p = y + r * sr + c * sc;
            if (sc == 1 && c + 3 < d) {
                ATT_SSTORE4(v, p);
                continue;
            }
            if (c < d) FK_SSTORE1(v.s0, p);
            if (c + 1 < d) FK_SSTORE1(v.s1, p + sc);
            if (c + 2 < d) FK_SSTORE1(v.s2, p + 2 * sc);
            if (c + 3 < d) FK_SSTORE1(v.s3, p + 3 * sc);
        }
    }
}

#endif // FK_ATTENTION_FLASH_H
