// softmax.cl — fused softmax / log-softmax / log-sum-exp over the last axis,
// forward and backward (OpenCL C 1.2).
//
// LAUNCH RULE (both kernels, 1-D NDRange):
//   items  = ceil(rows / ROWS_PER_ITEM)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i owns rows [i*ROWS_PER_ITEM, min(rows, (i+1)*ROWS_PER_ITEM))
//   (items past `rows` return). Work-items never cooperate: no barriers, no
//   __local memory; each core gets whole rows.
//
// Build options (-D), all given by the host:
//   OUTPUT_MODE    0 softmax, 1 log-softmax, 2 log-sum-exp (y has `rows`
//                  elements), 3 normalizer statistics (y is float, one
//                  (m, d) pair per row: y[2r] = m, y[2r+1] = d). Forward
//                  only.                                         default 0
//   DTYPE          storage of x, y, dy, dx (common.h): 0 float, 1 half,
//                  2 bfloat16; masks and row_factor are float    default 0
//   HAS_ROW_FACTOR 0/1, OUTPUT_MODE 0 only: row r's softmax is multiplied by
//                  row_factor[r] (log-sum-exp backward); else NULL  def 0
//   HAS_ADD_MASK   0/1: add_mask is used (else the host passes NULL)  def 0
//   HAS_BOOL_MASK  0/1: bool_mask is used (else NULL)             default 0
//   LOG_SOFTMAX    0/1: backward only: y came from log-softmax    default 0
// Launch / tuning parameters (defaults are the best measured on PoCL 3.1
// pthread, 2-core AVX-512; retune per device):
//   ROWS_PER_ITEM  rows per work-item                            default 8
//   WG_SIZE        local size (reqd_work_group_size)             default 1
//   CHUNK          float16 vectors per max-then-rescale step of the first
//                  pass (1, 2, 4 or 8)                            default 8
//   FK_NT_STORE    1: forward output written with streaming (non-
//                  temporal) stores, 64-byte aligned after a scalar head;
//                  0 for outputs re-read while still in cache   default 1
//   FK_VLOAD       1: use vload16/vstore16 (see common.h)         default 0
//   FK_NO_FORCE_INLINE 1: for Oclgrind --uninitialized runs, together with
//                  -cl-opt-disable (see common.h)                 default 0
//
// Semantics (forward): z = scale*x + add_mask; z = -inf where bool_mask == 0
// (masked_fill: a masked-out position is never read, a NaN there is
// ignored). Softmax over z per row; a mask row stride is 0 (one [cols] mask
// broadcast over rows) or cols ([rows, cols] mask). A row whose z are all
// -inf gives softmax 0, log-softmax -inf, LSE -inf (never NaN). A NaN in a
// row's unmasked z makes all that row's outputs NaN and no other row's.
//
// Forward algorithm (online normalizer, Milakov & Gimelshein): pass 1 reads
// a row once computing per-lane (m, d) in float16 accumulators, merged at
// the end of the row; pass 2 reads it again and writes the output. Pass 1
// takes the max over CHUNK vectors first and rescales d only when some
// lane's max grew (rare after the first chunks), so it costs ~1 exp per
// element; pass 2 costs 1 exp per element (softmax) or none (log-softmax).
// Software pipelining over the rows of a work-item: pass 2 of row r runs in
// the same loop as pass 1 of row r+1, so the memory streams (read of the
// next row, write of this one) and the exp work overlap; one row alone per
// pass left each core waiting on memory half the time.
// Row starts need not be aligned: unaligned float16 accesses plus a scalar
// tail of cols % 16 elements.
#include "common.h"

// z = scale*x (+ mask) must round identically in both passes (pass 2 relies
// on z - max <= 0): forbid fma contraction of scale*x + mask or z - max.
#pragma OPENCL FP_CONTRACT OFF

#ifndef OUTPUT_MODE
#define OUTPUT_MODE 0
#endif
#ifndef HAS_ADD_MASK
#define HAS_ADD_MASK 0
#endif
#ifndef HAS_BOOL_MASK
#define HAS_BOOL_MASK 0
#endif
#ifndef LOG_SOFTMAX
#define LOG_SOFTMAX 0
#endif
#ifndef HAS_ROW_FACTOR
#define HAS_ROW_FACTOR 0
#endif

// Output element type and stores. Streaming stores (64-byte aligned, after a
// scalar head) for float outputs; 2-byte dtypes go through FK_SSTORE16.
#if OUTPUT_MODE == 3
typedef float sm_out_t;
#else
typedef fk_store_t sm_out_t;
#endif
#if DTYPE == 0
#define SM_STORE16(v, p) FK_STORE16_ALIGNED((v), (p))
#define SM_HEAD(p) fk_head16(p)
#else
#define SM_STORE16(v, p) FK_SSTORE16((v), (p))
#define SM_HEAD(p) ((size_t)0)
#endif
#ifndef ROWS_PER_ITEM
#define ROWS_PER_ITEM 8
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif
#ifndef CHUNK
#define CHUNK 8
#endif

// One row of the forward: x, masks (NULL when absent)
typedef struct {
    __global const fk_store_t *x;
    __global const float *a;
    __global const uchar *b;
} sm_row;

FK_INLINE sm_row sm_row_at(__global const fk_store_t *x, __global const float *add_mask,
                           __global const uchar *bool_mask, int row, size_t n,
                           int add_stride, int bool_stride)
{
    sm_row r;
    r.x = x + (size_t)row * n;
    r.a = 0;
    r.b = 0;
#if HAS_ADD_MASK
    r.a = add_mask + (size_t)row * (size_t)add_stride;
#endif
#if HAS_BOOL_MASK
    r.b = bool_mask + (size_t)row * (size_t)bool_stride;
#endif
    return r;
}

// z for 16 columns starting at c
FK_INLINE float16 sm_z16(sm_row r, size_t c, float scale)
{
    float16 z = FK_SLOAD16(r.x + c) * scale;
#if HAS_ADD_MASK
    z += FK_LOAD16(r.a + c);
#endif
#if HAS_BOOL_MASK
    z = (convert_int16(vload16(0, r.b + c)) == (int16)0) ? (float16)(-INFINITY) : z;
#endif
    return z;
}

// z for one column
FK_INLINE float sm_z1(sm_row r, size_t c, float scale)
{
    float z = FK_SLOAD1(r.x + c) * scale;
#if HAS_ADD_MASK
    z += r.a[c];
#endif
#if HAS_BOOL_MASK
    z = (r.b[c] == 0) ? -INFINITY : z;
#endif
    return z;
}

// ---- pass 1 state: per-lane (m, d); ms = m with -inf replaced by 0 (so
// e^(z - ms) is 0, not NaN, for -inf z in a lane that has seen only -inf);
// d is a Kahan sum (dc its compensation): plain float lanes lose ~1e-5
// relative over 10^6 columns.
typedef struct { float16 m, ms, d, dc; } sm_acc;

FK_INLINE void sm_acc_init(sm_acc *s)
{
    s->m = (float16)(-INFINITY);
    s->ms = (float16)0.0f;
    s->d = (float16)0.0f;
    s->dc = (float16)0.0f;
}

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

FK_INLINE void sm_acc_add(sm_acc *s, float16 e)    // Kahan step
{
    float16 t = e - s->dc, u = s->d + t;
    s->dc = (u - s->d) - t;
    s->d = u;
}

// absorb CHUNK vectors at column c
FK_INLINE void sm_p1_chunk(sm_acc *s, sm_row r, size_t c, float scale)
{
    float16 z[CHUNK], e[CHUNK];
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) z[k] = sm_z16(r, c + 16 * k, scale);
    float16 cm = z[0];
    #pragma unroll
    for (int k = 1; k < CHUNK; ++k) cm = fk_max16(cm, z[k]);
    sm_acc_rescale(s, cm);
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) e[k] = fk_expneg16(z[k] - s->ms, 1.0f);
    #pragma unroll
    for (int w = 1; w < CHUNK; w *= 2) {             // pairwise chunk sum
        #pragma unroll
        for (int k = 0; k + w < CHUNK; k += 2 * w) e[k] += e[k + w];
    }
    sm_acc_add(s, e[0]);
}

FK_INLINE void sm_p1_vec(sm_acc *s, sm_row r, size_t c, float scale)
{
    float16 z = sm_z16(r, c, scale);
    sm_acc_rescale(s, z);
    sm_acc_add(s, fk_expneg16(z - s->ms, 1.0f));
}

// pass 1 over the float16 vectors of [c0, c1) (c1 - c0 a multiple of 16)
FK_INLINE void sm_p1_vectors(sm_acc *s, sm_row r, size_t c0, size_t c1, float scale)
{
    const size_t cc = c0 + (c1 - c0) / (16 * CHUNK) * (16 * CHUNK);
    size_t c = c0;
    for (; c < cc; c += 16 * CHUNK) sm_p1_chunk(s, r, c, scale);
    for (; c < c1; c += 16) sm_p1_vec(s, r, c, scale);
}

// lanes -> one (M, D), then the scalar columns [0, c0) and [c1, n)
FK_INLINE void sm_p1_finish(sm_acc *s, sm_row r, size_t c0, size_t c1, size_t n,
                            float scale, float *M, float *D)
{
    fk_online_reduce16(s->m, s->d - s->dc, M, D);
    for (size_t c = 0; c < c0; ++c) fk_online_step(M, D, sm_z1(r, c, scale));
    for (size_t c = c1; c < n; ++c) fk_online_step(M, D, sm_z1(r, c, scale));
}

// ---- pass 2: output from z and the row's (M, D) ----
typedef struct { float ms, k; } sm_out;   // k = f/D (softmax) or log(D)

// f: the row's factor (1, or row_factor[row] with HAS_ROW_FACTOR)
FK_INLINE sm_out sm_out_of(float M, float D, float f)
{
    sm_out o;
    o.ms = fk_safe_max(M);
#if OUTPUT_MODE == 0
    // fully masked row: D = 0 -> factor 0 (never 0 * inf); NaN D stays NaN
    o.k = (D == 0.0f) ? 0.0f : f / D;
#else
    // log-softmax = (z - M) - log(D); fully masked row: -inf - 0 = -inf
    o.k = (D == 0.0f) ? 0.0f : log(D);
#endif
    return o;
}

FK_INLINE float16 sm_p2_16(float16 z, sm_out o)
{
#if OUTPUT_MODE == 0
    return fk_expneg16(z - o.ms, o.k);   // 1/D folded into the polynomial
#else
    return (z - o.ms) - o.k;
#endif
}

FK_INLINE float sm_p2_1(float z, sm_out o)
{
#if OUTPUT_MODE == 0
    return fk_expneg(z - o.ms, o.k);
#else
    return (z - o.ms) - o.k;
#endif
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_forward(__global const fk_store_t *x, __global sm_out_t *y,
    __global const float *add_mask, __global const uchar *bool_mask,
    int rows, int cols, int add_mask_row_stride, int bool_mask_row_stride,
    float scale, __global const float *row_factor)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    if (r0 >= r1) return;

#if OUTPUT_MODE >= 2
    const size_t nv = n & ~(size_t)15;
    for (int row = r0; row < r1; ++row) {
        sm_row r = sm_row_at(x, add_mask, bool_mask, row, n,
                             add_mask_row_stride, bool_mask_row_stride);
        sm_acc s;
        sm_acc_init(&s);
        sm_p1_vectors(&s, r, 0, nv, scale);
        float M, D;
        sm_p1_finish(&s, r, 0, nv, n, scale, &M, &D);
#if OUTPUT_MODE == 2
        FK_SSTORE1(M + log(D), y + row);   // M = -inf -> -inf + log(0) = -inf
#else
        y[2 * row] = M;
        y[2 * row + 1] = D;
#endif
    }
#else
    // prologue: pass 1 of the first row
    sm_row cur = sm_row_at(x, add_mask, bool_mask, r0, n,
                           add_mask_row_stride, bool_mask_row_stride);
    float M, D;
    {
        const size_t nv = n & ~(size_t)15;
        sm_acc s;
        sm_acc_init(&s);
        sm_p1_vectors(&s, cur, 0, nv, scale);
        sm_p1_finish(&s, cur, 0, nv, n, scale, &M, &D);
    }
    for (int row = r0; row < r1; ++row) {
#if HAS_ROW_FACTOR
        const sm_out o = sm_out_of(M, D, row_factor[row]);
#else
        const sm_out o = sm_out_of(M, D, 1.0f);
#endif
        __global sm_out_t *yr = y + (size_t)row * n;
        // output columns [c0, c1) are float16 vectors with 64-byte aligned
        // y (streaming stores need it); [0, c0) and [c1, n) are scalar
        const size_t c0 = min(n, SM_HEAD(yr));
        const size_t c1 = c0 + ((n - c0) & ~(size_t)15);
        const size_t cc = c0 + (c1 - c0) / (16 * CHUNK) * (16 * CHUNK);
        for (size_t c = 0; c < c0; ++c) FK_SSTORE1(sm_p2_1(sm_z1(cur, c, scale), o), yr + c);
        size_t c = c0;
        if (row + 1 < r1) {
            // pass 2 of this row fused with pass 1 of the next (same columns)
            sm_row nxt = sm_row_at(x, add_mask, bool_mask, row + 1, n,
                                   add_mask_row_stride, bool_mask_row_stride);
            sm_acc s;
            sm_acc_init(&s);
            for (; c < cc; c += 16 * CHUNK) {
                sm_p1_chunk(&s, nxt, c, scale);
                #pragma unroll
                for (int k = 0; k < CHUNK; ++k)
                    SM_STORE16(sm_p2_16(sm_z16(cur, c + 16 * k, scale), o),
                                       yr + c + 16 * k);
            }
            for (; c < c1; c += 16) {
                sm_p1_vec(&s, nxt, c, scale);
                SM_STORE16(sm_p2_16(sm_z16(cur, c, scale), o), yr + c);
            }
            for (; c < n; ++c) FK_SSTORE1(sm_p2_1(sm_z1(cur, c, scale), o), yr + c);
            sm_p1_finish(&s, nxt, c0, c1, n, scale, &M, &D);
            cur = nxt;
        } else {
            for (; c < c1; c += 16)
                SM_STORE16(sm_p2_16(sm_z16(cur, c, scale), o), yr + c);
            for (; c < n; ++c) FK_SSTORE1(sm_p2_1(sm_z1(cur, c, scale), o), yr + c);
        }
    }
    FK_NT_FENCE();
#endif
}

// Backward. softmax:     dx = scale * y * (dy - sum(dy * y))
//           log-softmax: dx = scale * (dy - e^y * sum(dy)), and dx = 0 where
//                        y = -inf (masked positions get no gradient).
// Two reads of (y, dy) per row, one write of dx; same launch rule.
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_backward(__global const fk_store_t *y, __global const fk_store_t *dy,
    __global fk_store_t *dx, int rows, int cols, float scale)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    const size_t nv = n & ~(size_t)15;
    const size_t n4 = n & ~(size_t)63;

    for (int row = r0; row < r1; ++row) {
        __global const fk_store_t *yr = y + (size_t)row * n;
        __global const fk_store_t *gr = dy + (size_t)row * n;
        __global fk_store_t *xr = dx + (size_t)row * n;

        // four independent float16 accumulators: hides add latency
        float16 s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        size_t c = 0;
        for (; c < n4; c += 64) {
#if LOG_SOFTMAX
            s0 += FK_SLOAD16(gr + c);
            s1 += FK_SLOAD16(gr + c + 16);
            s2 += FK_SLOAD16(gr + c + 32);
            s3 += FK_SLOAD16(gr + c + 48);
#else
            s0 = fma(FK_SLOAD16(gr + c), FK_SLOAD16(yr + c), s0);
            s1 = fma(FK_SLOAD16(gr + c + 16), FK_SLOAD16(yr + c + 16), s1);
            s2 = fma(FK_SLOAD16(gr + c + 32), FK_SLOAD16(yr + c + 32), s2);
            s3 = fma(FK_SLOAD16(gr + c + 48), FK_SLOAD16(yr + c + 48), s3);
#endif
        }
        for (; c < nv; c += 16) {
#if LOG_SOFTMAX
            s0 += FK_SLOAD16(gr + c);
#else
            s0 = fma(FK_SLOAD16(gr + c), FK_SLOAD16(yr + c), s0);
#endif
        }
        float16 s16 = (s0 + s1) + (s2 + s3);
        float8 s8 = FK_LO8(s16) + FK_HI8(s16);
        float4 s4 = FK_LO4(s8) + FK_HI4(s8);
        float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
        for (; c < n; ++c) {
#if LOG_SOFTMAX
            s += FK_SLOAD1(gr + c);
#else
            s += FK_SLOAD1(gr + c) * FK_SLOAD1(yr + c);
#endif
        }

        for (c = 0; c < nv; c += 16) {
            float16 yv = FK_SLOAD16(yr + c);
            float16 gv = FK_SLOAD16(gr + c);
#if LOG_SOFTMAX
            // y <= 0 for a log-softmax; -inf gives e^y = 0, then dx = 0
            float16 g = scale * (gv - fk_expneg16(yv, s));
            g = (yv == (float16)(-INFINITY)) ? (float16)0.0f : g;
#else
            float16 g = scale * yv * (gv - s);
#endif
            FK_SSTORE16(g, xr + c);
        }
        for (; c < n; ++c) {
            float yv = FK_SLOAD1(yr + c), gv = FK_SLOAD1(gr + c);
#if LOG_SOFTMAX
            float g = scale * (gv - fk_expneg(yv, s));
            g = (yv == -INFINITY) ? 0.0f : g;
#else
            float g = scale * yv * (gv - s);
#endif
            FK_SSTORE1(g, xr + c);
        }
    }
}
