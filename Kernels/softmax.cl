// softmax.cl — fused softmax / log-softmax / log-sum-exp over the last axis,
// forward and backward (OpenCL C 1.2).
//
// LAUNCH RULE (both kernels, 1-D NDRange):
//   items  = ceil(rows / ROWS_PER_ITEM)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   One work-item owns ROWS_PER_ITEM consecutive whole rows (it loops over
//   them; items past `rows` return). Work-items never cooperate, so there are
//   no barriers and no __local memory; every core gets whole rows.
//
// Build options (-D), all given by the host:
//   OUTPUT_MODE    0 softmax, 1 log-softmax, 2 log-sum-exp (y has `rows`
//                  elements). Forward only.                     default 0
//   HAS_ADD_MASK   0/1: add_mask is used (else the host passes NULL)  def 0
//   HAS_BOOL_MASK  0/1: bool_mask is used (else NULL)             default 0
//   LOG_SOFTMAX    0/1: backward only: y came from log-softmax    default 0
// Launch / tuning parameters (defaults are the best measured on PoCL
// pthread, AVX-512, 2 cores; retune per device):
//   ROWS_PER_ITEM  rows per work-item                            default 1
//   WG_SIZE        local size (reqd_work_group_size)             default 1
//   CHUNK          float16 vectors per max-then-rescale step in the first
//                  pass (1, 2, 4 or 8)                            default 4
//
// Semantics (forward): z = scale*x + add_mask; z = -inf where bool_mask == 0
// (masked_fill: a masked-out position is never read, a NaN there is
// ignored). Softmax over z per row; mask row stride is 0 (one [cols] mask
// broadcast over rows) or cols ([rows, cols] mask). A row whose z are all
// -inf gives softmax 0, log-softmax -inf, LSE -inf (never NaN). A NaN in a
// row's (unmasked) z makes that row's outputs NaN and no other row's.
//
// Forward algorithm (online normalizer, Milakov & Gimelshein): pass 1 reads
// the row once computing per-lane (m, d) in float16 accumulators; pass 2
// reads it again and writes the output. Pass 1 takes the max over CHUNK
// vectors first and rescales d only when some lane's max grew (rare after
// the first few chunks), so it costs ~1 exp per element; pass 2 costs 1 exp
// per element (softmax) or none (log-softmax). Row starts need not be
// aligned: vload16/vstore16 plus a scalar tail of cols % 16 elements.
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
#ifndef ROWS_PER_ITEM
#define ROWS_PER_ITEM 1
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif
#ifndef CHUNK
#define CHUNK 4
#endif

// z for 16 columns starting at c
inline float16 sm_z16(__global const float *xr, __global const float *ar,
                      __global const uchar *br, size_t c, float scale)
{
    float16 z = vload16(0, xr + c) * scale;
#if HAS_ADD_MASK
    z += vload16(0, ar + c);
#endif
#if HAS_BOOL_MASK
    z = (convert_int16(vload16(0, br + c)) == (int16)0) ? (float16)(-INFINITY) : z;
#endif
    return z;
}

// z for one column
inline float sm_z1(__global const float *xr, __global const float *ar,
                   __global const uchar *br, size_t c, float scale)
{
    float z = xr[c] * scale;
#if HAS_ADD_MASK
    z += ar[c];
#endif
#if HAS_BOOL_MASK
    z = (br[c] == 0) ? -INFINITY : z;
#endif
    return z;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_forward(__global const float *x, __global float *y,
    __global const float *add_mask, __global const uchar *bool_mask,
    int rows, int cols, int add_mask_row_stride, int bool_mask_row_stride,
    float scale)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    const size_t nv = n & ~(size_t)15;             // columns done as float16
    const size_t nc = n - n % (size_t)(16 * CHUNK); // columns done in chunks

    for (int row = r0; row < r1; ++row) {
        __global const float *xr = x + (size_t)row * n;
        __global const float *ar = 0;
        __global const uchar *br = 0;
#if HAS_ADD_MASK
        ar = add_mask + (size_t)row * (size_t)add_mask_row_stride;
#endif
#if HAS_BOOL_MASK
        br = bool_mask + (size_t)row * (size_t)bool_mask_row_stride;
#endif

        // ---- pass 1: per-lane (m, d); ms = m with -inf replaced by 0 ----
        // d is a Kahan sum (dc = its compensation): plain float lanes lose
        // ~1e-5 relative over 10^6 columns.
        float16 m = (float16)(-INFINITY), ms = (float16)0.0f;
        float16 d = (float16)0.0f, dc = (float16)0.0f;
        size_t c = 0;
        for (; c < nc; c += 16 * CHUNK) {
            float16 z[CHUNK];
            #pragma unroll
            for (int k = 0; k < CHUNK; ++k) z[k] = sm_z16(xr, ar, br, c + 16 * k, scale);
            float16 cm = z[0];
            #pragma unroll
            for (int k = 1; k < CHUNK; ++k) cm = fk_max16(cm, z[k]);
            // rescale only when some lane's max grew: a uniform branch, taken
            // a few times per row on typical data
            if (fk_any16(cm > m)) {
                float16 mn = fk_max16(m, cm);
                float16 msn = fk_safe_max16(mn);
                float16 f = fk_expneg16(m - msn, 1.0f);  // m = -inf lanes: 0
                d *= f;
                dc *= f;
                m = mn;
                ms = msn;
            }
            float16 e[CHUNK];
            #pragma unroll
            for (int k = 0; k < CHUNK; ++k) e[k] = fk_expneg16(z[k] - ms, 1.0f);
            #pragma unroll
            for (int w = 1; w < CHUNK; w *= 2) {     // pairwise sum of the chunk
                #pragma unroll
                for (int k = 0; k + w < CHUNK; k += 2 * w) e[k] += e[k + w];
            }
            float16 t = e[0] - dc, s = d + t;          // Kahan step
            dc = (s - d) - t;
            d = s;
        }
        for (; c < nv; c += 16) {
            float16 z = sm_z16(xr, ar, br, c, scale);
            if (fk_any16(z > m)) {
                float16 mn = fk_max16(m, z);
                float16 msn = fk_safe_max16(mn);
                float16 f = fk_expneg16(m - msn, 1.0f);
                d *= f;
                dc *= f;
                m = mn;
                ms = msn;
            }
            float16 t = fk_expneg16(z - ms, 1.0f) - dc, s = d + t;
            dc = (s - d) - t;
            d = s;
        }
        float M, D;
        fk_online_reduce16(m, d - dc, &M, &D);
        for (; c < n; ++c) fk_online_step(&M, &D, sm_z1(xr, ar, br, c, scale));

#if OUTPUT_MODE == 2
        y[row] = M + log(D);        // M = -inf -> -inf + log(0) = -inf
#else
        // ---- pass 2: read again, write the output ----
        __global float *yr = y + (size_t)row * n;
        const float Ms = fk_safe_max(M);
#if OUTPUT_MODE == 0
        // fully masked row: D = 0 -> factor 0 (never 0 * inf); NaN D stays NaN
        const float inv = (D == 0.0f) ? 0.0f : 1.0f / D;
        // inv is folded into the exp polynomial: no multiply per element
        for (c = 0; c < nv; c += 16)
            vstore16(fk_expneg16(sm_z16(xr, ar, br, c, scale) - Ms, inv), 0, yr + c);
        for (; c < n; ++c)
            yr[c] = fk_expneg(sm_z1(xr, ar, br, c, scale) - Ms, inv);
#else
        // log-softmax = (z - M) - log(D); fully masked row: -inf - 0
        const float lg = (D == 0.0f) ? 0.0f : log(D);
        for (c = 0; c < nv; c += 16)
            vstore16((sm_z16(xr, ar, br, c, scale) - Ms) - lg, 0, yr + c);
        for (; c < n; ++c)
            yr[c] = (sm_z1(xr, ar, br, c, scale) - Ms) - lg;
#endif
#endif
    }
}

// Backward. softmax:     dx = scale * y * (dy - sum(dy * y))
//           log-softmax: dx = scale * (dy - e^y * sum(dy)), and dx = 0 where
//                        y = -inf (masked positions get no gradient).
// Two reads of (y, dy) per row, one write of dx; same launch rule.
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_backward(__global const float *y, __global const float *dy,
    __global float *dx, int rows, int cols, float scale)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    const size_t nv = n & ~(size_t)15;
    const size_t n4 = n & ~(size_t)63;

    for (int row = r0; row < r1; ++row) {
        __global const float *yr = y + (size_t)row * n;
        __global const float *gr = dy + (size_t)row * n;
        __global float *xr = dx + (size_t)row * n;

        // four independent float16 accumulators: hides add latency
        float16 s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        size_t c = 0;
        for (; c < n4; c += 64) {
#if LOG_SOFTMAX
            s0 += vload16(0, gr + c);
            s1 += vload16(0, gr + c + 16);
            s2 += vload16(0, gr + c + 32);
            s3 += vload16(0, gr + c + 48);
#else
            s0 = fma(vload16(0, gr + c), vload16(0, yr + c), s0);
            s1 = fma(vload16(0, gr + c + 16), vload16(0, yr + c + 16), s1);
            s2 = fma(vload16(0, gr + c + 32), vload16(0, yr + c + 32), s2);
            s3 = fma(vload16(0, gr + c + 48), vload16(0, yr + c + 48), s3);
#endif
        }
        for (; c < nv; c += 16) {
#if LOG_SOFTMAX
            s0 += vload16(0, gr + c);
#else
            s0 = fma(vload16(0, gr + c), vload16(0, yr + c), s0);
#endif
        }
        float16 s16 = (s0 + s1) + (s2 + s3);
        float8 s8 = s16.lo + s16.hi;
        float4 s4 = s8.lo + s8.hi;
        float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
        for (; c < n; ++c) {
#if LOG_SOFTMAX
            s += gr[c];
#else
            s += gr[c] * yr[c];
#endif
        }

        for (c = 0; c < nv; c += 16) {
            float16 yv = vload16(0, yr + c);
            float16 gv = vload16(0, gr + c);
#if LOG_SOFTMAX
            float16 g = scale * (gv - fk_exp16(yv) * s);
            g = (yv == (float16)(-INFINITY)) ? (float16)0.0f : g;
#else
            float16 g = scale * yv * (gv - s);
#endif
            vstore16(g, 0, xr + c);
        }
        for (; c < n; ++c) {
            float yv = yr[c], gv = gr[c];
#if LOG_SOFTMAX
            float g = scale * (gv - fk_exp(yv) * s);
            g = (yv == -INFINITY) ? 0.0f : g;
#else
            float g = scale * yv * (gv - s);
#endif
            xr[c] = g;
        }
    }
}
