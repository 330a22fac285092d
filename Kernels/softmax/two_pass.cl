// softmax/two_pass.cl — softmax_two_pass: the two-pass softmax forward of
// Dukhan & Ablavatski, OUTPUT_MODE 0 (softmax) and 1 (log-softmax) (OpenCL C
// 1.2). One row at a time, no pipelining, no scratch.
//
// Launch rule, options, views and semantics: softmax/row.h.
//
// Two-pass softmax (Dukhan & Ablavatski, "The Two-Pass Softmax
// Algorithm"; forward, OUTPUT_MODE 0 and 1). No max pass: e^z = 2^k * e^r,
// k = rint(z*log2 e), r = z - k*ln2 (three-part ln2, fma), |r| <= ln2/2.
//   pass 1  per lane a sum S and exponent N with S*2^N = sum e^z: per CHUNK
//           vectors, if some k > N, S *= 2^(N - k') (exact power of two by
//           exponent-bit arithmetic) and N = k'; then add e^r * 2^(k - N)
//           (Kahan over pairwise chunk sums). End of row: lanes -> one (N, S)
//           (S = sum S_l * 2^(N_l - N)), then the scalar tail.
//   pass 2  softmax y = e^r * 2^(k - N) * f/S; log-softmax
//           y = (k - N)*ln2 + r - log S (k - N is an exact integer).
// Sums never over/underflow (no max needed), exp costs one polynomial and a
// power of two per element in each pass. Special values: z = -inf terms are
// 0 (fully masked row: S = 0 -> 0 / -inf); a NaN z makes S NaN; +inf z
// gives k = +inf, e^r = NaN -> NaN row. Range: full accuracy while
// |z| < ~9e4 (|z*log2 e| < 2^17: the float product's rounding then keeps
// |r| <= 0.35). Beyond, r is clamped to [-0.35, 0.35]: +-1e30 rows (ties,
// one-hot) are right, but differences of order 1 between such large z are
// resolved only to ~0.5 % (at 1e5) or not at all (> ~2.9e6, where k is
// t = z*log2 e itself, possibly k + 0.5 below 2^23); |z| must be
// < FLT_MAX / log2 e (~2.4e38). The other algorithms have no such limit.
#include "softmax/row.h"

#if OUTPUT_MODE > FK_OUTPUT_LOG_SOFTMAX
#error "softmax_two_pass: OUTPUT_MODE 0 or 1 (log-sum-exp and statistics: online.cl)"
#endif

// ---- two-pass: e^z = 2^k * e^r, per-lane sum kept as S * 2^N ----
// k = rint(z*log2 e) (a float holding an integer: any magnitude), r = z -
// k*ln2 with a three-part ln2 (C1 has 9 bits): exact k*C1 inside the fma.
// |r| <= 0.35 while |z| < ~9e4 (the rounding of z*log2 e then moves k by
// less than 0.005); for larger |z| r is not accurate, so it is
// clamped to [-0.35, 0.35] (selects: NaN stays NaN; the polynomial stays
// accurate there, so log e^r = r for the log-softmax): e^r is finite and
// the same z always gives the same (k, r), so ties and one-hot rows
// (+-1e30) come out right (see the top of the file for the limits).
#define TP_C1 0.693359375f
#define TP_C2 -2.1219444170128554e-4f
#define TP_C3 1.6465949697480609e-12f
#define TP_DEFINE(SUF, FT, UT)                                                 \
/* 2^d for an integer-valued d <= 0; d < -126 (and NaN) -> 0 */               \
FK_INLINE FT tp_pow2##SUF(FT d)                                               \
{                                                                              \
    d = (d > (FT)(-127.0f)) ? d : (FT)(-127.0f);                               \
    return as_##FT(as_##UT(d + (FT)FK_EXP_MAGICB) << 23);                      \
}                                                                              \
/* k = rint(z log2 e) by the magic-number add (|t| < 2^22; rint() was */  \
/* 1.5x slower on PoCL), else t itself (integer from 2^23 on; in         */  \
/* [2^22, 2^23) it may be k + 0.5: only where |z| > 2.9e6, see the top). */  \
/* r = z - k ln2 (clamped); returns r, *k set                            */  \
FK_INLINE FT tp_kr##SUF(FT z, FT *k)                                          \
{                                                                              \
    const FT t = z * (FT)FK_LOG2E;                                             \
    const FT kr = (t + (FT)FK_EXP_MAGIC) - (FT)FK_EXP_MAGIC;                   \
    const FT kf = (fabs(t) < (FT)4194304.0f) ? kr : t;                         \
    FT r = fma(kf, (FT)(-TP_C1), z);                                           \
    r = fma(kf, (FT)(-TP_C2), r);                                              \
    r = fma(kf, (FT)(-TP_C3), r);                                              \
    r = (r > (FT)0.35f) ? (FT)0.35f : r;                                       \
    r = (r < (FT)(-0.35f)) ? (FT)(-0.35f) : r;                                 \
    *k = kf;                                                                   \
    return r;                                                                  \
}                                                                              \
/* e^r, degree-5 polynomial of fk_exp (|r| <= ln2/2 + tiny: <= 2e-7) */      \
FK_INLINE FT tp_expr##SUF(FT r)                                               \
{                                                                              \
    FT p = fma((FT)FK_EXP_P5, r, (FT)FK_EXP_P4);                               \
    p = fma(p, r, (FT)FK_EXP_P3);                                              \
    p = fma(p, r, (FT)FK_EXP_P2);                                              \
    p = fma(p, r, (FT)FK_EXP_P1);                                              \
    return fma(p, r, (FT)1.0f);                                                \
}                                                                              \
/* e^z * 2^-N for k <= N; z = -inf -> 0; NaN z -> NaN */                      \
FK_INLINE FT tp_term##SUF(FT z, FT r, FT kf, FT N)                            \
{                                                                              \
    const FT e = tp_expr##SUF(r) * tp_pow2##SUF(kf - N);                       \
    return (z == (FT)(-INFINITY)) ? (FT)0.0f : e;                              \
}
TP_DEFINE(, float, uint)
TP_DEFINE(16, float16, uint16)

// pass-1 state per lane: sum S (Kahan: S - Sc) times 2^N; N = -inf: empty
typedef struct { float16 N, S, Sc; } tp_acc;

// raise the lanes' N to Nn >= N (an exact power-of-two rescale of S; a
// uniform branch, taken a few times per row on typical data). Lanes with
// N = Nn = -inf or +inf: 2^NaN -> 0, S stays 0 (or NaN).
FK_INLINE void tp_raise(tp_acc *s, float16 cm)
{
    const float16 Nn = fk_max16(s->N, cm);   // a NaN k never raises N
    if (fk_any16(Nn > s->N)) {
        const float16 f = tp_pow216(s->N - Nn);
        s->S *= f;
        s->Sc *= f;
        s->N = Nn;
    }
}

// scalar step: absorb z into (N, S)
FK_INLINE void tp_step1(float *N, float *S, float z)
{
    float kf;
    const float r = tp_kr(z, &kf);
    if (kf > *N) {
        *S *= tp_pow2(*N - kf);
        *N = kf;
    }
    *S += tp_term(z, r, kf, *N);
}

// pass-2 output for z given the row's N and K = f/S (softmax) or log S
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
#define TP_DEFINE_OUT(SUF, FT)                                                 \
FK_INLINE FT tp_out##SUF(FT z, float N, float K)                               \
{                                                                              \
    FT kf;                                                                     \
    const FT r = tp_kr##SUF(z, &kf);                                           \
    const FT e = tp_expr##SUF(r) * (tp_pow2##SUF(kf - (FT)N) * K);             \
    return (z == (FT)(-INFINITY)) ? (FT)(0.0f * K) : e;                        \
}
#else
#define TP_DEFINE_OUT(SUF, FT)                                                 \
FK_INLINE FT tp_out##SUF(FT z, float N, float K)                               \
{                                                                              \
    FT kf;                                                                     \
    const FT r = tp_kr##SUF(z, &kf);                                           \
    const FT l = fma(kf - (FT)N, (FT)FK_LN2F, r) - K;                          \
    return (z == (FT)(-INFINITY)) ? z - K : l;                                 \
}
#endif
TP_DEFINE_OUT(, float)
TP_DEFINE_OUT(16, float16)

#if OUTPUT_MODE == FK_OUTPUT_LOG_SOFTMAX
// max z of a row (NaN ignored)
FK_INLINE float tp_row_max(sm_row r, size_t n, float scale)
{
    const size_t nv = n & ~(size_t)15;
    float16 mx = (float16)(-INFINITY);
    size_t c = 0;
    for (; c < nv; c += 16) mx = fk_max16(mx, sm_z16(r, c, scale));
    float M = fk_hmax16(mx);
    for (; c < n; ++c) M = fk_max(M, sm_z1(r, c, scale));
    return M;
}
#endif

FK_INLINE void tp_row2(sm_row r, __global sm_out_t *yr, size_t n, float scale, float f)
{
    const size_t nv = n & ~(size_t)15;
    const size_t cc = nv / (16 * CHUNK) * (16 * CHUNK);
    size_t c;
    // pass 1: sum of e^z as S * 2^N, no max
    tp_acc s;
    s.N = (float16)(-INFINITY);
    s.S = (float16)0.0f;
    s.Sc = (float16)0.0f;
    for (c = 0; c < cc; c += 16 * CHUNK) {
        SM_PREFETCH_CHUNK(r, c);
        float16 z[CHUNK], rr[CHUNK], kf[CHUNK];
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k) {
            z[k] = sm_z16(r, c + 16 * k, scale);
            rr[k] = tp_kr16(z[k], &kf[k]);
        }
        float16 cm = kf[0];
        #pragma unroll
        for (int k = 1; k < CHUNK; ++k) cm = fk_max16(cm, kf[k]);
        tp_raise(&s, cm);
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k) z[k] = tp_term16(z[k], rr[k], kf[k], s.N);
        SM_PAIRWISE(z);
        fk_kahan16(&s.S, &s.Sc, z[0]);
    }
    for (; c < nv; c += 16) {
        float16 kf;
        const float16 z = sm_z16(r, c, scale);
        const float16 rr = tp_kr16(z, &kf);
        tp_raise(&s, kf);
        fk_kahan16(&s.S, &s.Sc, tp_term16(z, rr, kf, s.N));
    }
    // lanes -> one (N, S): N = max lane N, S = sum S_l * 2^(N_l - N)
    const float N16 = fk_hmax16(s.N);
    float N = N16;
    float S = fk_hsum16((s.S - s.Sc) * tp_pow216(s.N - (float16)N16));
    for (; c < n; ++c) tp_step1(&N, &S, sm_z1(r, c, scale));
    // pass 2: y = e^r * 2^(k - N) * f/S, or (k - N) ln2 + r - log S.
    // Fully masked row: S = 0 -> 0 / -inf; NaN S (NaN or +inf z) -> NaN row.
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    const float K = (S == 0.0f) ? 0.0f : f / S;
#else
    // A peaked row: the max's term e^r (|r| <= 0.35) is S's bulk and log S
    // would cancel against r. Where S < 1.25 e^0.35 (D = 1 + R with R <
    // 0.25 possible) the row is done as the max-based log-softmax instead:
    // a max read, R without the max's unit (row.h, sm_rest), the output
    // pass of row.h. Ordinary rows never.
    if (S > 0.0f && S < SM_PEAKED_D * 1.4190675f) {
        const float M = tp_row_max(r, n, scale);
        sm_p2_range(r, yr, 0, n, scale, sm_out_of(M, sm_rest(r, 0, n, scale, M), f));
        return;
    }
    const float K = (S == 0.0f) ? 0.0f : log(S);
#endif
    // scalar head up to 64-byte aligned y, streaming float16 stores, tail
    const size_t c0 = min(n, FK_HEAD(yr));
    const size_t c1 = c0 + ((n - c0) & ~(size_t)15);
    for (c = 0; c < c0; ++c) FK_SSTORE1(tp_out(sm_z1(r, c, scale), N, K), yr + c);
    for (; c < c1; c += 16) {
        const float16 z = sm_z16(r, c, scale);
        SM_STORE16(tp_out16(z, N, K), yr + c);
    }
    for (; c < n; ++c) FK_SSTORE1(tp_out(sm_z1(r, c, scale), N, K), yr + c);
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_two_pass(SM_X_PARAMS, SM_Y_PARAMS, __global const float *row_factor)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    for (int row = r0; row < r1; ++row)
        tp_row2(SM_ROW(row), SM_YROW(row), (size_t)cols, scale, SM_FACTOR(row));
    FK_NT_FENCE();
}
