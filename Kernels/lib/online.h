// online.h — the online normalizer (Milakov & Gimelshein) on (m, d) pairs,
// safe for m = -inf, and the one Kahan step every kernel's per-lane sums use.
//   fk_safe_max / fk_safe_max16   m with -inf -> 0 (the max to subtract)
//   fk_online_step                absorb one value into (m, d)
//   fk_online_merge / 16          associative combine of two (m, d) pairs
//   fk_online_reduce16            float16 lanes -> one (m, d)
//   fk_online_step_lazy / _r      one scalar value, one exp unless the max
//                                 grows, Kahan-compensated (GPU presets)
//   fk_online_*_r                 the same on (m, R = d - 1) (log-softmax, LSE)
//   fk_kahan16                    one compensated add: (s, c) += e
//   fk_fast_exp / fk_fast_exp4    e^x as one exp2 instruction on a GPU (GPU
//                                 presets: softmax/group.h, topk/group.cl)
//   fk_acc4_*                     a GPU item's (m, d): one max, four lane sums,
//                                 fast exp, no Kahan step (log_r: (m, R))
#ifndef FK_ONLINE_H
#define FK_ONLINE_H
#include "lib/common.h"

// ---------------------------------------------------------------------------
// Online normalizer on (m, d): m = running max, d = sum of e^(x - m).
//
// The naive step d' = d*e^(m - m') + e^(x - m') gives NaN when m' = -inf
// (e^(-inf - -inf)). We subtract a "safe" max instead: ms = (m' == -inf) ? 0
// : m'. With m' = -inf every x so far is -inf, e^(x - 0) = 0 and
// e^(m - 0) = 0, so d stays exactly 0 (a fully masked row), never NaN.
// A NaN x leaves m alone (comparison is false) and makes d NaN, so NaN
// propagates to everything computed from d (the row's outputs), by design.
// ---------------------------------------------------------------------------
FK_INLINE float fk_safe_max(float m) { return (m == -INFINITY) ? 0.0f : m; }
FK_INLINE float16 fk_safe_max16(float16 m)
{
    return (m == (float16)(-INFINITY)) ? (float16)0.0f : m;
}

// absorb one value x into (m, d)
FK_INLINE void fk_online_step(float *m, float *d, float x)
{
    float mn = fk_max(*m, x);
    float ms = fk_safe_max(mn);
    *d = *d * fk_exp(*m - ms) + fk_exp(x - ms);
    *m = mn;
}

// merge (m2, d2) into (m, d): the associative combine of two partial pairs
FK_INLINE void fk_online_merge(float *m, float *d, float m2, float d2)
{
    float mn = fk_max(*m, m2);
    float ms = fk_safe_max(mn);
    *d = *d * fk_exp(*m - ms) + d2 * fk_exp(m2 - ms);
    *m = mn;
}

// lane-wise merge of two float16 (m, d) accumulators
FK_INLINE void fk_online_merge16(float16 *m, float16 *d, float16 m2, float16 d2)
{
    float16 mn = fk_max16(*m, m2);
    float16 ms = fk_safe_max16(mn);
    *d = *d * fk_exp16(*m - ms) + d2 * fk_exp16(m2 - ms);
    *m = mn;
}

// reduce a float16 (m, d) accumulator to one pair (tree of merges)
FK_INLINE void fk_online_reduce16(float16 m, float16 d, float *mo, float *dout)
{
    const float8 mlo = FK_LO8(m), mhi = FK_HI8(m);
    float8 m8 = (mhi > mlo) ? mhi : mlo;
    float8 ms8 = (m8 == (float8)(-INFINITY)) ? (float8)0.0f : m8;
    float8 d8 = FK_LO8(d) * fk_exp8(mlo - ms8) + FK_HI8(d) * fk_exp8(mhi - ms8);
    const float4 m4lo = FK_LO4(m8), m4hi = FK_HI4(m8);
    float4 mn4 = (m4hi > m4lo) ? m4hi : m4lo;
    float4 ms4 = (mn4 == (float4)(-INFINITY)) ? (float4)0.0f : mn4;
    float4 d4 = FK_LO4(d8) * fk_exp4(m4lo - ms4) + FK_HI4(d8) * fk_exp4(m4hi - ms4);
    float mm = mn4.s0, dd = d4.s0;
    fk_online_merge(&mm, &dd, mn4.s1, d4.s1);
    fk_online_merge(&mm, &dd, mn4.s2, d4.s2);
    fk_online_merge(&mm, &dd, mn4.s3, d4.s3);
    *mo = mm;
    *dout = dd;
}

// ---------------------------------------------------------------------------
// The same on (m, R) pairs, R = d - 1: the sum WITHOUT one unit term of the
// max (its e^0 = 1; further terms equal to the max count). log-softmax and
// log-sum-exp take log d = log1p(R), accurate when d ~ 1 (a peaked row,
// whose max has log-softmax -R ~ -1e-9): R is never formed as d - 1 in
// float, where the small terms would round against the unit. The empty pair
// (all -inf) is (-inf, -1); NaN propagates as with (m, d).
//   merge (m1, R1), (m2, R2), mn = max: each side contributes R_i when
//   m_i = mn, else (R_i + 1)*e^(m_i - mn); equal maxima add the second unit.
// ---------------------------------------------------------------------------
#define FK_DEFINE_MERGE_R(NAME, FT, EXP)                                       \
FK_INLINE FT NAME(FT m1, FT r1, FT m2, FT r2, FT *mo)                          \
{                                                                              \
    const FT mn = (m2 > m1) ? m2 : m1;                                         \
    const FT ms = (mn == (FT)(-INFINITY)) ? (FT)0.0f : mn;                     \
    const FT a = (m1 == mn) ? r1 : (r1 + (FT)1.0f) * EXP(m1 - ms);             \
    const FT b = (m2 == mn) ? r2 : (r2 + (FT)1.0f) * EXP(m2 - ms);             \
    *mo = mn;                                                                  \
    return (a + b) + (((m1 == mn) & (m2 == mn)) ? (FT)1.0f : (FT)0.0f);        \
}
FK_DEFINE_MERGE_R(fk_merge_r1, float, fk_exp)
FK_DEFINE_MERGE_R(fk_merge_r8, float8, fk_exp8)
FK_DEFINE_MERGE_R(fk_merge_r4, float4, fk_exp4)

// merge (m2, r2) into (m, r)
FK_INLINE void fk_online_merge_r(float *m, float *r, float m2, float r2)
{
    float mn;
    *r = fk_merge_r1(*m, *r, m2, r2, &mn);
    *m = mn;
}

// absorb one value x into (m, r): a new max brings the unit, (r + 1)*e^(m - x)
// of the old terms and e^0 - 1 = 0 of its own (+inf: NaN, as with (m, d))
FK_INLINE void fk_online_step_r(float *m, float *r, float x)
{
    const float mn = fk_max(*m, x);
    const float ms = fk_safe_max(mn);
    const float e = fk_exp(x - ms);
    *r = (x > *m) ? (*r + 1.0f) * fk_exp(*m - ms) + (e - 1.0f) : *r + e;
    *m = mn;
}

// float16 (m, r) lanes -> one (m, r)
FK_INLINE void fk_online_reduce16_r(float16 m, float16 r, float *mo, float *ro)
{
    float8 m8;
    const float8 r8 = fk_merge_r8(FK_LO8(m), FK_LO8(r), FK_HI8(m), FK_HI8(r), &m8);
    float4 m4;
    const float4 r4 = fk_merge_r4(FK_LO4(m8), FK_LO4(r8), FK_HI4(m8), FK_HI4(r8), &m4);
    float mm = m4.s0, rr = r4.s0;
    fk_online_merge_r(&mm, &rr, m4.s1, r4.s1);
    fk_online_merge_r(&mm, &rr, m4.s2, r4.s2);
    fk_online_merge_r(&mm, &rr, m4.s3, r4.s3);
    *mo = mm;
    *ro = rr;
}

// ---------------------------------------------------------------------------
// The GPU presets' per-item step: z into (m, d) (_r: (m, R)), d - dc a Kahan
// sum. A new max rescales (two exps, rare after the first columns), any
// other value costs one exp. +inf: (z - z) is NaN, so d turns NaN as with
// fk_online_step; a NaN z fails z > m and adds NaN.
// ---------------------------------------------------------------------------
FK_INLINE void fk_kahan1(float *s, float *c, float e)
{
    const float t = e - *c, u = *s + t;
    *c = (u - *s) - t;
    *s = u;
}

FK_INLINE void fk_online_step_lazy(float *m, float *d, float *dc, float z)
{
    if (z > *m) {
        *d = (*d - *dc) * fk_exp(*m - z) + ((z - z) + 1.0f);
        *dc = 0.0f;
        *m = z;
    } else {
        fk_kahan1(d, dc, fk_exp(z - fk_safe_max(*m)));
    }
}

FK_INLINE void fk_online_step_lazy_r(float *m, float *r, float *rc, float z)
{
    if (z > *m) {   // the old terms and the old unit rescaled; z brings the new unit
        *r = (*r - *rc + 1.0f) * fk_exp(*m - z) + (z - z);
        *rc = 0.0f;
        *m = z;
    } else {
        fk_kahan1(r, rc, fk_exp(z - fk_safe_max(*m)));
    }
}

// One Kahan step on 16 lanes: the sum is s - c (c the lost low-order part).
// Plain float lanes lose ~1e-5 relative over 10^6 columns.
FK_INLINE void fk_kahan16(float16 *s, float16 *c, float16 e)
{
    const float16 t = e - *c, u = *s + t;
    *c = (u - *s) - t;
    *s = u;
}

// ---------------------------------------------------------------------------
// The GPU presets' exp: native_exp2(x * log2 e), one instruction on a GPU
// (v_exp_f32 on AMD, ex2.approx.ftz.f32 on NVIDIA: about 2 ulp, results
// below 2^-126 flushed to 0). Used where x = z - max <= 0 is exact, so
// e^0 = 1 exactly and no term exceeds 1; the product's rounding adds at
// most |x| * 1.7e-7 relative (negligible for terms that matter in a sum).
// -inf -> 0, NaN -> NaN.
// ---------------------------------------------------------------------------
FK_INLINE float fk_fast_exp(float x) { return native_exp2(x * FK_LOG2E); }
FK_INLINE float4 fk_fast_exp4(float4 x) { return native_exp2(x * FK_LOG2E); }

// ---------------------------------------------------------------------------
// A GPU item's online (m, d) over 4-column vectors: one running max m and
// four partial sums (one per vector lane) of e^(z - m). A new max rescales
// them (rare after the first columns: a branch per item), any other vector
// costs four fast exps and four adds. No Kahan step: a lane adds about
// cols / (4 * items) terms before the group's tree merges the items.
// log_r (a compile-time 0/1 after inlining): the lanes add up to R = d - 1
// (lib/online.h's (m, R)): lane 0 starts at -1 (the empty pair), a new max
// cm brings (R + 1)*f = R*f + f, and its own unit term is left out (the
// first lane equal to cm contributes z - cm, 0 or NaN for +inf, instead of
// e^0 = 1). +inf: NaN, as with fk_online_step; a NaN z makes d NaN.
// ---------------------------------------------------------------------------
typedef struct { float m, ms; float4 d; } fk_acc4;

FK_INLINE void fk_acc4_init(fk_acc4 *s, int log_r)
{
    s->m = -INFINITY;
    s->ms = 0.0f;
    s->d = (float4)(log_r ? -1.0f : 0.0f, 0.0f, 0.0f, 0.0f);
}

// cm > m (finite or +inf), the max of the 4 values z
FK_INLINE void fk_acc4_grow(fk_acc4 *s, float4 z, float cm, int log_r)
{
    const float f = fk_fast_exp(s->m - cm);   // m = -inf: 0
    float4 e = fk_fast_exp4(z - (float4)cm);   // +inf z: NaN
    if (log_r) {
        const int first = (z.s0 == cm) ? 0 : (z.s1 == cm) ? 1 : (z.s2 == cm) ? 2 : 3;
        e = ((int4)(0, 1, 2, 3) == (int4)first) ? z - (float4)cm : e;
        s->d = s->d * f + e;
        s->d.s0 += f;
    } else {
        s->d = s->d * f + e;
    }
    s->m = cm;
    s->ms = cm;
}

// absorb the 4 values z
FK_INLINE void fk_acc4_push4(fk_acc4 *s, float4 z, int log_r)
{
    const float cm = fk_max(fk_max(z.s0, z.s1), fk_max(z.s2, z.s3));
    if (cm > s->m) fk_acc4_grow(s, z, cm, log_r);
    else s->d += fk_fast_exp4(z - (float4)s->ms);
}

// absorb one value z
FK_INLINE void fk_acc4_push1(fk_acc4 *s, float z, int log_r)
{
    if (z > s->m) {
        const float f = fk_fast_exp(s->m - z);
        s->d *= f;
        s->d.s0 += (log_r ? f : 1.0f) + (z - z);   // the old unit rescaled, or z's own
        s->m = z;
        s->ms = z;
    } else {
        s->d.s0 += fk_fast_exp(z - s->ms);
    }
}

// the item's pair: (m, d), or (m, R) with log_r
FK_INLINE void fk_acc4_pair(const fk_acc4 *s, float *m, float *d)
{
    *m = s->m;
    *d = (s->d.s0 + s->d.s1) + (s->d.s2 + s->d.s3);
}

#endif // FK_ONLINE_H
