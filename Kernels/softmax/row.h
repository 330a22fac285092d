// softmax/row.h — what the softmax algorithms share: the row view (z loads
// with scale and masks), the online pass 1 (per-lane (m, d)), the output
// pass, and the options and semantics common to every softmax file.
//
// Semantics (forward): z = scale*x + add_mask; z = -inf where bool_mask == 0
// (masked_fill: a masked-out position is never read, a NaN there is
// ignored). Softmax over z per row. A row whose z are all -inf gives
// softmax 0, log-softmax -inf, LSE -inf (never NaN). A NaN in a row's
// unmasked z makes all that row's outputs NaN and no other row's.
//
// Tensor views: every operand t is given as (pointer, t_offset,
// t_row_stride), in elements: row r of t starts at t + t_offset +
// r*t_row_stride; columns are contiguous. A mask row stride may be 0 (one
// [cols] mask broadcast over all rows). Row starts need not be aligned:
// unaligned float16 loads, a scalar head before the first 64-byte aligned
// output element (streaming stores need it) and a scalar tail.
//
// Build options (-D) shared by the softmax files:
//   DTYPE          storage of x, y, dy, dx (lib/dtype.h): 0 float, 1 half,
//                  2 bfloat16; masks and row_factor are float    default 0
//   OUTPUT_MODE    0 softmax, 1 log-softmax (every forward file); 2 log-sum-
//                  exp, 3 normalizer statistics (online.cl, shards.cl, the
//                  group files); named FK_OUTPUT_* in softmax/output.h
//                                                                 default 0
//   HAS_ADD_MASK, HAS_BOOL_MASK  0/1: the mask is used / absent (NULL) as a
//                  compile-time fact. Not defined (preferred): decided at
//                  run time by whether the pointer is NULL (a uniform branch)
//   row_factor     (argument) OUTPUT_MODE 0: row r's softmax is multiplied
//                  by row_factor[r] (log-sum-exp backward); NULL: 1. Always a
//                  run-time check; HAS_ROW_FACTOR is no longer read.
// Launch / tuning parameters (defaults are the best measured on PoCL 3.1
// pthread, 2-core AVX-512; retune per device):
//   ROWS_PER_ITEM  rows per work-item                            default 8
//   WG_SIZE        local size (reqd_work_group_size)             default 1
//   CHUNK          float16 vectors per chunk of a pass (1, 2, 4, 8) default 8
//   FK_NT_STORE    1: output written with streaming (non-temporal) stores;
//                  0 for outputs re-read while still in cache   default 1
//   PREFETCH       software prefetch distance (elements) of a pass's first
//                  read of a row; 0: none; x86 targets only     default 1024
//   FK_VLOAD, FK_NO_FORCE_INLINE: see lib/common.h               default 0
//
// Row-wise launch rule (online, block, three_pass, two_pass, backward; 1-D):
//   items  = ceil(rows / ROWS_PER_ITEM)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i owns rows [i*ROWS_PER_ITEM, min(rows, (i+1)*ROWS_PER_ITEM))
//   (items past `rows` return). Work-items never cooperate: no barriers, no
//   __local memory; each core gets whole rows. For fewer rows than cores,
//   shards.cl splits rows into column shards instead.
#ifndef SM_ROW_H
#define SM_ROW_H
#include "lib/common.h"
#include "lib/dtype.h"
#include "lib/online.h"
#include "softmax/output.h"

// z = scale*x (+ mask) must round identically in every pass (the output
// pass relies on z - max <= 0): forbid fma contraction.
#pragma OPENCL FP_CONTRACT OFF

#ifndef ROWS_PER_ITEM
#define ROWS_PER_ITEM 8
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif
#ifndef CHUNK
#define CHUNK 8
#endif
// Log-softmax and log-sum-exp carry (M, R = D - 1) instead of (M, D): R is
// the row's sum without the max's unit term, so log D = log1p(R) keeps the
// relative accuracy of a peaked row's max (y = -log1p(R) ~ -R ~ -1e-9),
// which log(D) with D = 1 + R rounded in float loses (lib/online.h).
#define SM_LOG_R (OUTPUT_MODE == FK_OUTPUT_LOG_SOFTMAX || OUTPUT_MODE == FK_OUTPUT_LSE)

// a mask is used: compile-time when HAS_*_MASK is given, else p != NULL
#ifdef HAS_ADD_MASK
#define SM_USE_ADD(p) (HAS_ADD_MASK)
#else
#define SM_USE_ADD(p) ((p) != 0)
#endif
#ifdef HAS_BOOL_MASK
#define SM_USE_BOOL(p) (HAS_BOOL_MASK)
#else
#define SM_USE_BOOL(p) ((p) != 0)
#endif

// Output element type: float statistics for OUTPUT_MODE 3, else storage.
#if OUTPUT_MODE == FK_OUTPUT_STATISTICS
typedef float sm_out_t;
#else
typedef fk_store_t sm_out_t;
#endif
#define SM_STORE16(v, p) FK_SSTORE16_ALIGNED((v), (p))

// One row of the forward: x, masks (NULL when absent)
typedef struct {
    __global const fk_store_t *x;
    __global const float *a;
    __global const uchar *b;
} sm_row;

FK_INLINE sm_row sm_row_at(__global const fk_store_t *x, __global const float *add_mask,
                           __global const uchar *bool_mask, int row,
                           long x_offset, long x_row_stride,
                           long add_mask_offset, long add_mask_row_stride,
                           long bool_mask_offset, long bool_mask_row_stride)
{
    sm_row r;
    r.x = x + x_offset + (long)row * x_row_stride;
    r.a = 0;
    r.b = 0;
    if (SM_USE_ADD(add_mask)) r.a = add_mask + add_mask_offset + (long)row * add_mask_row_stride;
    if (SM_USE_BOOL(bool_mask)) r.b = bool_mask + bool_mask_offset + (long)row * bool_mask_row_stride;
    return r;
}
// The parameters of x and its masks, and of y, that every forward kernel
// takes under these names (the host binds them by name, read from the built
// kernel), and that SM_ROW / SM_YROW read.
#define SM_X_PARAMS                                                                            \
    __global const fk_store_t *x, __global const float *add_mask, __global const uchar *bool_mask, \
    int rows, int cols, long x_offset, long x_row_stride,                                      \
    long add_mask_offset, long add_mask_row_stride, long bool_mask_offset, long bool_mask_row_stride, \
    float scale
#define SM_Y_PARAMS __global sm_out_t *y, long y_offset, long y_row_stride
// row `row` of the kernel's operands (by the entries' argument names)
#define SM_ROW(row) sm_row_at(x, add_mask, bool_mask, (row), x_offset, x_row_stride,   \
    add_mask_offset, add_mask_row_stride, bool_mask_offset, bool_mask_row_stride)
#define SM_YROW(row) (y + y_offset + (long)(row) * y_row_stride)
// the row's output factor (OUTPUT_MODE 0): row_factor[row], or 1 for NULL
#define SM_FACTOR(row) (row_factor ? row_factor[row] : 1.0f)

// z for 16 columns starting at c
FK_INLINE float16 sm_z16(sm_row r, size_t c, float scale)
{
    float16 z = FK_SLOAD16(r.x + c) * scale;
    if (SM_USE_ADD(r.a)) z += FK_LOAD16(r.a + c);
    if (SM_USE_BOOL(r.b))
        z = (convert_int16(vload16(0, r.b + c)) == (int16)0) ? (float16)(-INFINITY) : z;
    return z;
}

// z for one column
FK_INLINE float sm_z1(sm_row r, size_t c, float scale)
{
    float z = FK_SLOAD1(r.x + c) * scale;
    if (SM_USE_ADD(r.a)) z += r.a[c];
    if (SM_USE_BOOL(r.b)) z = (r.b[c] == 0) ? -INFINITY : z;
    return z;
}

#define SM_PREFETCH_CHUNK(r, c) FK_PREFETCH_CHUNK((r).x + (c))

// pairwise sum of CHUNK vectors (into e[0])
#define SM_PAIRWISE(e) do {                                                   \
    _Pragma("unroll") for (int w_ = 1; w_ < CHUNK; w_ *= 2) {                 \
        _Pragma("unroll") for (int k_ = 0; k_ + w_ < CHUNK; k_ += 2 * w_)     \
            (e)[k_] += (e)[k_ + w_];                                          \
    } } while (0)

// lane max of the CHUNK vectors at column c into *mx (the max pass of the
// block and three-pass algorithms). A NaN z may hide other values of its
// lane in this chunk's tree: harmless, the NaN makes the row's sum and so
// the whole row NaN in the next pass anyway.
FK_INLINE void sm_max_chunk(float16 *mx, sm_row r, size_t c, float scale)
{
    float16 z[CHUNK];
    SM_PREFETCH_CHUNK(r, c);
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) z[k] = sm_z16(r, c + 16 * k, scale);
    #pragma unroll
    for (int w = 1; w < CHUNK; w *= 2) {
        #pragma unroll
        for (int k = 0; k + w < CHUNK; k += 2 * w) z[k] = fk_max16(z[k], z[k + w]);
    }
    *mx = fk_max16(*mx, z[0]);
}

// ---- online pass 1 (online.cl, shards.cl): per-lane (m, d); ms = m with
// -inf replaced by 0 (so e^(z - ms) is 0, not NaN, for -inf z in a lane that
// has seen only -inf); d is a Kahan sum (dc its compensation). The max over
// CHUNK vectors comes first and d is rescaled only when some lane's max grew
// (rare after the first chunks): ~1 exp per element.
// SM_LOG_R (log-softmax, LSE): d - dc holds R = d - 1 per lane (-1: empty).
// A lane's unit term enters only with a new lane max, i.e. in the rescale
// branch: there the chunk's terms equal to the new max get 1 subtracted
// before the pairwise sum (and ties beyond the first are added back as an
// exact integer); the hot path without a new max is the same as softmax's.
typedef struct { float16 m, ms, d, dc; } sm_acc;

FK_INLINE void sm_acc_init(sm_acc *s)
{
    s->m = (float16)(-INFINITY);
    s->ms = (float16)0.0f;
    s->d = (float16)(SM_LOG_R ? -1.0f : 0.0f);
    s->dc = (float16)0.0f;
}

#if SM_LOG_R
// SM_LOG_R rescale (inside the uniform branch of a grown lane): grown lanes
// take R = (R + 1)*e^(m - m') (the new max's unit is excluded from the chunk
// by the caller); returns, per lane, the new max where it grew, NaN elsewhere
FK_INLINE float16 sm_acc_rescale_r(sm_acc *s, float16 cm)
{
    const int16 grown = cm > s->m;
    const float16 mn = fk_max16(s->m, cm);
    const float16 msn = fk_safe_max16(mn);
    const float16 f = fk_expneg16(s->m - msn, 1.0f);   // m = -inf lanes: 0
    s->d = grown ? (s->d - s->dc + 1.0f) * f : s->d;
    s->dc = grown ? (float16)0.0f : s->dc;
    s->m = mn;
    s->ms = msn;
    return grown ? mn : (float16)(NAN);
}
#endif

// new per-lane max cm: rescale d only if some lane grew (a uniform branch,
// taken a few times per row on typical data)
FK_INLINE void sm_acc_rescale(sm_acc *s, float16 cm)
{
    if (fk_any16(cm > s->m)) {
        float16 mn = fk_max16(s->m, cm);
        float16 msn = fk_safe_max16(mn);
        float16 f = fk_expneg16(s->m - msn, 1.0f);   // m = -inf lanes: 0
        s->d *= f;
        s->dc *= f;
        s->m = mn;
        s->ms = msn;
    }
}

// absorb CHUNK vectors at column c
FK_INLINE void sm_p1_chunk(sm_acc *s, sm_row r, size_t c, float scale)
{
    float16 z[CHUNK], e[CHUNK];
    SM_PREFETCH_CHUNK(r, c);
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) z[k] = sm_z16(r, c + 16 * k, scale);
    float16 cm = z[0];
    #pragma unroll
    for (int k = 1; k < CHUNK; ++k) cm = fk_max16(cm, z[k]);
#if SM_LOG_R
    if (fk_any16(cm > s->m)) {
        // a new lane max (rare): its unit term excluded before the sums
        const float16 t = sm_acc_rescale_r(s, cm);
        float16 extra = (t == t) ? (float16)(-1.0f) : (float16)0.0f;
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k) {
            const float16 one = (z[k] == t) ? (float16)1.0f : (float16)0.0f;
            e[k] = fk_expneg16(z[k] - s->ms, 1.0f) - one;   // +inf max: NaN stays
            extra += one;
        }
        SM_PAIRWISE(e);
        fk_kahan16(&s->d, &s->dc, e[0] + extra);            // extra: ties, exact
        return;
    }
#else
    sm_acc_rescale(s, cm);
#endif
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) e[k] = fk_expneg16(z[k] - s->ms, 1.0f);
    SM_PAIRWISE(e);
    fk_kahan16(&s->d, &s->dc, e[0]);
}

FK_INLINE void sm_p1_vec(sm_acc *s, sm_row r, size_t c, float scale)
{
    float16 z = sm_z16(r, c, scale);
#if SM_LOG_R
    float16 t = (float16)(NAN);
    if (fk_any16(z > s->m)) t = sm_acc_rescale_r(s, z);
    // a lane's new max is its only element here: its unit excluded
    const float16 one = (z == t) ? (float16)1.0f : (float16)0.0f;
    fk_kahan16(&s->d, &s->dc, fk_expneg16(z - s->ms, 1.0f) - one);
#else
    sm_acc_rescale(s, z);
    fk_kahan16(&s->d, &s->dc, fk_expneg16(z - s->ms, 1.0f));
#endif
}

// pass 1 over the float16 vectors of [c0, c1) (c1 - c0 a multiple of 16)
FK_INLINE void sm_p1_vectors(sm_acc *s, sm_row r, size_t c0, size_t c1, float scale)
{
    const size_t cc = c0 + (c1 - c0) / (16 * CHUNK) * (16 * CHUNK);
    size_t c = c0;
    for (; c < cc; c += 16 * CHUNK) sm_p1_chunk(s, r, c, scale);
    for (; c < c1; c += 16) sm_p1_vec(s, r, c, scale);
}

// lanes -> one (M, D), then the scalar columns [a, c0) and [c1, b);
// SM_LOG_R: (M, R) with R = D - 1
FK_INLINE void sm_p1_finish(sm_acc *s, sm_row r, size_t a, size_t c0, size_t c1, size_t b,
                            float scale, float *M, float *D)
{
#if SM_LOG_R
    fk_online_reduce16_r(s->m, s->d - s->dc, M, D);
    for (size_t c = a; c < c0; ++c) fk_online_step_r(M, D, sm_z1(r, c, scale));
    for (size_t c = c1; c < b; ++c) fk_online_step_r(M, D, sm_z1(r, c, scale));
#else
    fk_online_reduce16(s->m, s->d - s->dc, M, D);
    for (size_t c = a; c < c0; ++c) fk_online_step(M, D, sm_z1(r, c, scale));
    for (size_t c = c1; c < b; ++c) fk_online_step(M, D, sm_z1(r, c, scale));
#endif
}

// the (M, D) of columns [a, b) of a row, one read ((M, R) with SM_LOG_R)
FK_INLINE void sm_stats(sm_row r, size_t a, size_t b, float scale, float *M, float *D)
{
    const size_t bv = a + ((b - a) & ~(size_t)15);
    sm_acc s;
    sm_acc_init(&s);
    sm_p1_vectors(&s, r, a, bv, scale);
    sm_p1_finish(&s, r, a, a, bv, b, scale, M, D);
}

// ---- the output pass (OUTPUT_MODE 0/1): y from z and the row's (M, D) ----
typedef struct { float ms, k; } sm_out;   // k = f/D (softmax) or log(D)

#if SM_LOG_R
// log D from R = D - 1 (-1: a fully masked row, D = 0)
FK_INLINE float sm_log_d(float R) { return log1p(R); }

// R of columns [a, b) of a row whose max M (finite) is known, summed again
// without M's unit term: Σ_{z != M} e^(z - M) + (count of z == M) - 1.
// The block, three-pass and two-pass kernels sum D = 1 + R with the unit in
// float; they call this once more over a peaked row (D < SM_PEAKED_D), where
// that rounding would cost R its relative accuracy. Ordinary rows never.
#define SM_PEAKED_D 1.25f
FK_INLINE float sm_rest(sm_row r, size_t a, size_t b, float scale, float M)
{
    const size_t bv = a + ((b - a) & ~(size_t)15);
    float16 d = (float16)0.0f, dc = (float16)0.0f, cnt = (float16)0.0f;
    size_t c = a;
    for (; c < bv; c += 16) {
        const float16 z = sm_z16(r, c, scale);
        const int16 hit = z == (float16)M;
        cnt += hit ? (float16)1.0f : (float16)0.0f;
        fk_kahan16(&d, &dc, hit ? (float16)0.0f : fk_expneg16(z - M, 1.0f));
    }
    float R = fk_hsum16(d - dc), n = fk_hsum16(cnt);
    for (; c < b; ++c) {
        const float z = sm_z1(r, c, scale);
        if (z == M) n += 1.0f;
        else R += fk_expneg(z - M, 1.0f);
    }
    return R + (n - 1.0f);
}
#endif

// f: the row's factor (1, or row_factor[row]). SM_LOG_R: D is R = D - 1.
FK_INLINE sm_out sm_out_of(float M, float D, float f)
{
    sm_out o;
    o.ms = fk_safe_max(M);
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    // fully masked row: D = 0 -> factor 0 (never 0 * inf); NaN D stays NaN
    o.k = (D == 0.0f) ? 0.0f : f / D;
#elif SM_LOG_R
    // log-softmax = (z - M) - log1p(R); fully masked row (R = -1): -inf - 0
    (void)f;
    o.k = (D == -1.0f) ? 0.0f : sm_log_d(D);
#else
    (void)f;   // statistics (OUTPUT_MODE 3): no output pass
    (void)D;
    o.k = 0.0f;
#endif
    return o;
}

FK_INLINE float16 sm_p2_16(float16 z, sm_out o)
{
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    return fk_expneg16(z - o.ms, o.k);   // 1/D folded into the polynomial
#else
    return (z - o.ms) - o.k;
#endif
}

FK_INLINE float sm_p2_1(float z, sm_out o)
{
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    return fk_expneg(z - o.ms, o.k);
#else
    return (z - o.ms) - o.k;
#endif
}

#if OUTPUT_MODE <= FK_OUTPUT_LOG_SOFTMAX
// output columns [a, b) of a row: scalar up to the first 64-byte aligned y
// (streaming stores need it), float16 vectors, then a scalar tail
FK_INLINE void sm_p2_range(sm_row r, __global sm_out_t *yr, size_t a, size_t b,
                           float scale, sm_out o)
{
    const size_t c0 = min(b, a + FK_HEAD(yr + a));
    const size_t c1 = c0 + ((b - c0) & ~(size_t)15);
    size_t c = a;
    for (; c < c0; ++c) FK_SSTORE1(sm_p2_1(sm_z1(r, c, scale), o), yr + c);
    for (; c < c1; c += 16) SM_STORE16(sm_p2_16(sm_z16(r, c, scale), o), yr + c);
    for (; c < b; ++c) FK_SSTORE1(sm_p2_1(sm_z1(r, c, scale), o), yr + c);
}
#endif

#endif // SM_ROW_H
