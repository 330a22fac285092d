// common.h — helpers shared by every kernel in Kernels/ (OpenCL C 1.2).
//
// * fk_exp / fk_exp4 / fk_exp8 / fk_exp16: a hand-written vector exp.
//   The built-in exp() of PoCL goes through a slow generic path and is the
//   first wall of a softmax on a CPU device; this one is ~15 vector ops.
// * fk_max*: a max that maps to one vmaxps and never turns NaN into a number
//   in the first operand (fmax/max may drop NaN, see below).
// * fk_online_step / fk_online_merge: the online-normalizer recurrence
//   (Milakov & Gimelshein) on (m, d) pairs, safe for m = -inf.
#ifndef FK_COMMON_H
#define FK_COMMON_H

// ---------------------------------------------------------------------------
// exp(x)
//
// exp(x) = 2^n * e^r, n = round(x*log2(e)), r = x - n*ln2 in [-ln2/2, ln2/2].
// * n is rounded to nearest by adding a magic 1.5*2^23 (in one fma): the
//   sum's low mantissa bits then hold n in two's complement, so bits << 23 is
//   n already placed in the exponent field (the magic's own bits shift out).
//   No float->int conversion or round instruction.
// * r uses the Cody-Waite split of ln2 (C1 has 9 significant bits, so n*C1 is
//   exact even without a fused multiply-add).
// * e^r = 1 + r*q(r): degree-5 minimax polynomial for relative error (Remez,
//   constant term pinned to 1), 1.5e-7 evaluated in float; whole exp <= 2e-7.
// Degree 5 instead of Cephes' 7-operation form because exp throughput, not
// memory, is what limits a softmax on a CPU device.
// ---------------------------------------------------------------------------
#define FK_LOG2E      1.44269504088896341f
#define FK_EXP_C1     0.693359375f          /* ln2 high part (exact product) */
#define FK_EXP_C2    -2.12194440e-4f        /* ln2 - C1 */
#define FK_EXP_MAGIC  12582912.0f           /* 1.5 * 2^23 */
#define FK_EXP_MAGICB 12583039.0f           /* 1.5 * 2^23 + 127 (biased n) */
#define FK_EXP_LO    -87.33654f             /* ~ ln(FLT_MIN): below -> 0 */
#define FK_EXP_HI     88.72283f             /* ~ ln(FLT_MAX): above -> inf */
#define FK_EXP_P1     0.9999997019767761f
#define FK_EXP_P2     0.4999914765357971f
#define FK_EXP_P3     0.1666763871908188f
#define FK_EXP_P4     0.04189816117286682f
#define FK_EXP_P5     0.008290272206068039f

// fk_exp*: full range. 2^n is applied by adding n<<23 to the bits of e^r
// (valid up to x = ln(FLT_MAX); e^r's exponent is 126 or 127). Outside
// [FK_EXP_LO, FK_EXP_HI] the lanes hold garbage that two selects overwrite:
//   x < FK_EXP_LO (incl. -inf)      -> 0 (would be denormal: flushed, never
//                                       denormal garbage)
//   !(x <= FK_EXP_HI) (+inf, NaN)   -> x + inf (= +inf, or NaN stays NaN)
// Comparisons with NaN are false, so NaN reaches the second select; no
// fmin/fmax clamps (they would silently turn NaN into a number).
#define FK_DEFINE_EXP(NAME, FT, UT)                                            \
inline FT NAME(FT x)                                                           \
{                                                                              \
    FT k = fma(x, (FT)FK_LOG2E, (FT)FK_EXP_MAGIC);                             \
    FT n = k - (FT)FK_EXP_MAGIC;                                               \
    FT r = fma(n, (FT)(-FK_EXP_C1), x);                                        \
    r = fma(n, (FT)(-FK_EXP_C2), r);                                           \
    FT p = fma((FT)FK_EXP_P5, r, (FT)FK_EXP_P4);                               \
    p = fma(p, r, (FT)FK_EXP_P3);                                              \
    p = fma(p, r, (FT)FK_EXP_P2);                                              \
    p = fma(p, r, (FT)FK_EXP_P1);                                              \
    p = fma(p, r, (FT)1.0f);                                                   \
    FT y = as_##FT(as_##UT(p) + (as_##UT(k) << 23));                           \
    y = (x < (FT)FK_EXP_LO) ? (FT)0.0f : y;                                    \
    y = (x <= (FT)FK_EXP_HI) ? y : x + (FT)INFINITY;                           \
    return y;                                                                  \
}

FK_DEFINE_EXP(fk_exp,   float,   uint)
FK_DEFINE_EXP(fk_exp4,  float4,  uint4)
FK_DEFINE_EXP(fk_exp8,  float8,  uint8)
FK_DEFINE_EXP(fk_exp16, float16, uint16)

// fk_expneg*(x, c): c * e^x for the softmax hot loops, where x = z - max is
// <= 0, -inf, or NaN. Cheaper than fk_exp (13 vector ops): the magic carries
// the exponent bias so 2^n is built with one shift and applied with a
// multiply (which also keeps NaN a NaN: NaN * anything = NaN), and the only
// range check left is x < FK_EXP_LO -> 0 (masked -inf entries give exactly
// 0). The factor c (e.g. 1/sum) is folded into the polynomial coefficients,
// so it costs nothing per element. Valid for x <= 88.0 (NOT up to
// ln(FLT_MAX): 2^128 does not fit the biased shift); +inf gives NaN.
// Underflow gives 0*c, not 0, so a NaN c (a NaN row's 1/sum) still makes
// every output NaN, masked positions included.
#define FK_DEFINE_EXPNEG(NAME, FT, UT)                                         \
inline FT NAME(FT x, float c)                                                  \
{                                                                              \
    FT k = fma(x, (FT)FK_LOG2E, (FT)FK_EXP_MAGICB);                            \
    FT n = k - (FT)FK_EXP_MAGICB;                                              \
    FT r = fma(n, (FT)(-FK_EXP_C1), x);                                        \
    r = fma(n, (FT)(-FK_EXP_C2), r);                                           \
    FT p = fma((FT)(c * FK_EXP_P5), r, (FT)(c * FK_EXP_P4));                   \
    p = fma(p, r, (FT)(c * FK_EXP_P3));                                        \
    p = fma(p, r, (FT)(c * FK_EXP_P2));                                        \
    p = fma(p, r, (FT)(c * FK_EXP_P1));                                        \
    p = fma(p, r, (FT)c);                                                      \
    FT y = p * as_##FT(as_##UT(k) << 23);                                      \
    return (x < (FT)FK_EXP_LO) ? (FT)(0.0f * c) : y;                           \
}

FK_DEFINE_EXPNEG(fk_expneg,   float,   uint)
FK_DEFINE_EXPNEG(fk_expneg16, float16, uint16)

// any lane of a comparison mask set? (an or-tree; PoCL's any() extracts and
// tests the 16 lanes one by one)
inline int fk_any16(int16 v)
{
    int8 a = v.lo | v.hi;
    int4 b = a.lo | a.hi;
    int2 c = b.lo | b.hi;
    return (c.x | c.y) < 0;
}

// max(a, b) as (b > a) ? b : a — one vmaxps on x86. If b is NaN the result
// is a (NaN never enters a running max); NaN is propagated by the sums
// instead (e^(NaN - m) = NaN poisons d).
inline float   fk_max(float a, float b)       { return (b > a) ? b : a; }
inline float16 fk_max16(float16 a, float16 b) { return (b > a) ? b : a; }

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
inline float fk_safe_max(float m) { return (m == -INFINITY) ? 0.0f : m; }
inline float16 fk_safe_max16(float16 m)
{
    return (m == (float16)(-INFINITY)) ? (float16)0.0f : m;
}

// absorb one value x into (m, d)
inline void fk_online_step(float *m, float *d, float x)
{
    float mn = fk_max(*m, x);
    float ms = fk_safe_max(mn);
    *d = *d * fk_exp(*m - ms) + fk_exp(x - ms);
    *m = mn;
}

// merge (m2, d2) into (m, d): the associative combine of two partial pairs
inline void fk_online_merge(float *m, float *d, float m2, float d2)
{
    float mn = fk_max(*m, m2);
    float ms = fk_safe_max(mn);
    *d = *d * fk_exp(*m - ms) + d2 * fk_exp(m2 - ms);
    *m = mn;
}

// lane-wise merge of two float16 (m, d) accumulators
inline void fk_online_merge16(float16 *m, float16 *d, float16 m2, float16 d2)
{
    float16 mn = fk_max16(*m, m2);
    float16 ms = fk_safe_max16(mn);
    *d = *d * fk_exp16(*m - ms) + d2 * fk_exp16(m2 - ms);
    *m = mn;
}

// reduce a float16 (m, d) accumulator to one pair (tree of merges)
inline void fk_online_reduce16(float16 m, float16 d, float *mo, float *dout)
{
    float8 m8 = (m.hi > m.lo) ? m.hi : m.lo;
    float8 ms8 = (m8 == (float8)(-INFINITY)) ? (float8)0.0f : m8;
    float8 d8 = d.lo * fk_exp8(m.lo - ms8) + d.hi * fk_exp8(m.hi - ms8);
    float4 mn4 = (m8.hi > m8.lo) ? m8.hi : m8.lo;
    float4 ms4 = (mn4 == (float4)(-INFINITY)) ? (float4)0.0f : mn4;
    float4 d4 = d8.lo * fk_exp4(m8.lo - ms4) + d8.hi * fk_exp4(m8.hi - ms4);
    float mm = mn4.s0, dd = d4.s0;
    fk_online_merge(&mm, &dd, mn4.s1, d4.s1);
    fk_online_merge(&mm, &dd, mn4.s2, d4.s2);
    fk_online_merge(&mm, &dd, mn4.s3, d4.s3);
    *mo = mm;
    *dout = dd;
}

#endif // FK_COMMON_H
