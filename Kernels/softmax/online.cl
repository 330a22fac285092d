// softmax.cl — fused softmax / log-softmax / log-sum-exp over the last axis,
// forward and backward (OpenCL C 1.2).
//
// LAUNCH RULE (softmax_forward and softmax_backward, 1-D NDRange):
//   items  = ceil(rows / ROWS_PER_ITEM)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i owns rows [i*ROWS_PER_ITEM, min(rows, (i+1)*ROWS_PER_ITEM))
//   (items past `rows` return). Work-items never cooperate: no barriers, no
//   __local memory; each core gets whole rows. For fewer rows than cores,
//   softmax_shard_stats + softmax_shard_output split rows into column
//   shards instead (their own launch rule, above the backward kernel).
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
//   PREFETCH       software prefetch distance (elements) of each variant's
//                  first read of a row (and of every pass of VARIANT 2);
//                  0: none; x86 targets only                   default 1024
//   FK_NO_FORCE_INLINE 1: for Oclgrind --uninitialized runs, together with
//                  -cl-opt-disable (see common.h)                 default 0
//   VARIANT        forward algorithm for OUTPUT_MODE 0 and 1: 0 online
//                  normalizer, 1 block, 2 three-pass, 3 two-pass (below);
//                  OUTPUT_MODE 2 and 3 always use the online pass  default 0
// VARIANT=1 options (ignored otherwise):
//   BLOCK_MAX_COLS size in floats of the per-work-item __private scratch
//                  row; rows with cols > BLOCK_MAX_COLS fall back to the
//                  VARIANT=0 code inside the same kernel      default 16384
//
// VARIANT=1, block softmax (forward, OUTPUT_MODE 0 and 1). For rows that
// fit in cache; the host selects it when cols <= BLOCK_MAX_COLS (the
// kernel falls back to VARIANT=0 per launch otherwise). Same signature,
// launch rule, options and semantics as VARIANT=0. Per row:
//   stage 1  M = max z (load, scale, [mask], max: ~2 ops per vector)
//   stage 2  e = e^(z - M) (one exp per element, fk_expneg16) into a
//            __private float scratch[BLOCK_MAX_COLS] (64 KiB: L1/L2 of a
//            CPU core; NOT for GPUs, where it would spill), D = sum e
//            (per-lane Kahan over pairwise chunk sums); log-softmax keeps
//            only D
//   stage 3  y = e * (f/D) (softmax) or (z - M) - log D (log-softmax,
//            z recomputed from the cached row), streaming aligned stores
// One exp per element instead of the online normalizer's two and no
// rescaling: ~17 vector ops per float16 instead of ~30. Software pipelining
// over the rows of a work-item: stage 1 of row r+1 runs in
// the loop of stage 2 of row r, so its memory read overlaps the exp work;
// the software prefetch was worth +30 % on its own (the read stream was
// latency-bound, not bandwidth-bound). Measured on PoCL pthread (2 cores):
// 4096x4096 softmax ~30-35 GB/s vs ~18-20 for VARIANT=0 (copy ~60).
//
// VARIANT=2, three-pass ("safe") softmax (forward, OUTPUT_MODE 0 and 1):
// the reference the online normalizer is measured against. Any row length,
// no scratch, one row at a time (no pipelining). Per row:
//   pass 1  M = max z (read 1)
//   pass 2  D = sum e^(z - M) (read 2; fk_expneg16, per-lane Kahan over
//           pairwise chunk sums, as VARIANT=0)
//   pass 3  y = e^(z - M) / D or (z - M) - log D (read 3; streaming stores)
// Same signature, launch rule, options (ROWS_PER_ITEM, CHUNK, FK_NT_STORE...)
// and semantics as VARIANT=0; 3 reads + 1 write per element instead of 2 + 1.
//
// VARIANT=3, two-pass softmax (Dukhan & Ablavatski, "The Two-Pass Softmax
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
// < FLT_MAX / log2 e (~2.4e38). VARIANT 0-2 have no such limit.
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

// Output element type and stores: streaming stores (64-byte aligned, after a
// scalar head) for every storage type.
#if OUTPUT_MODE == 3
typedef float sm_out_t;
#else
typedef fk_store_t sm_out_t;
#endif
#define SM_STORE16(v, p) FK_SSTORE16_ALIGNED((v), (p))
#define SM_HEAD(p) FK_HEAD(p)
#ifndef ROWS_PER_ITEM
#define ROWS_PER_ITEM 8
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif
#ifndef CHUNK
#define CHUNK 8
#endif
#ifndef VARIANT
#define VARIANT 0
#endif
#ifndef BLOCK_MAX_COLS
#define BLOCK_MAX_COLS 16384
#endif

#define SM_PREFETCH_CHUNK(r, c) FK_PREFETCH_CHUNK((r).x + (c))

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

// horizontal max (NaN lanes never win) / sum of a float16
FK_INLINE float sm_hmax16(float16 v)
{
    const float8 l8 = FK_LO8(v), h8 = FK_HI8(v);
    const float8 a = (h8 > l8) ? h8 : l8;
    const float4 l4 = FK_LO4(a), h4 = FK_HI4(a);
    const float4 b = (h4 > l4) ? h4 : l4;
    const float2 l2 = FK_LO2(b), h2 = FK_HI2(b);
    const float2 c = (h2 > l2) ? h2 : l2;
    return fk_max(c.x, c.y);
}
FK_INLINE float sm_hsum16(float16 v)
{
    const float8 a = FK_LO8(v) + FK_HI8(v);
    const float4 b = FK_LO4(a) + FK_HI4(a);
    const float2 c = FK_LO2(b) + FK_HI2(b);
    return c.x + c.y;
}

// lane max of the CHUNK vectors at column c into *mx (the max pass of the
// block and three-pass variants). A NaN z may hide other values of its lane
// in this chunk's tree: harmless, the NaN makes the row's sum and so the
// whole row NaN in the next pass anyway.
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
    SM_PREFETCH_CHUNK(r, c);
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

#if OUTPUT_MODE <= 1
// output columns [a, b) of a row: scalar up to the first 64-byte aligned y
// (streaming stores need it), float16 vectors, then a scalar tail
FK_INLINE void sm_p2_range(sm_row r, __global sm_out_t *yr, size_t a, size_t b,
                           float scale, sm_out o)
{
    const size_t c0 = min(b, a + SM_HEAD(yr + a));
    const size_t c1 = c0 + ((b - c0) & ~(size_t)15);
    size_t c = a;
    for (; c < c0; ++c) FK_SSTORE1(sm_p2_1(sm_z1(r, c, scale), o), yr + c);
    for (; c < c1; c += 16) SM_STORE16(sm_p2_16(sm_z16(r, c, scale), o), yr + c);
    for (; c < b; ++c) FK_SSTORE1(sm_p2_1(sm_z1(r, c, scale), o), yr + c);
}
#endif

// ===========================================================================
// VARIANT=1: block softmax for rows that fit in cache (see the top of file)
// ===========================================================================
#if VARIANT == 1 && OUTPUT_MODE <= 1

// e = exp(z - M) of a row is kept in a __private float array (the stack of
// the PoCL worker thread: L1/L2-resident). Unaligned 16-float accesses.
#if defined(__clang__) && !(defined(FK_VLOAD) && FK_VLOAD)
typedef float sb_float16u __attribute__((ext_vector_type(16), aligned(4)));
#define SB_LOAD16(p) (*(const sb_float16u *)(p))
#define SB_STORE16(v, p) (*(sb_float16u *)(p) = (v))
#else
#define SB_LOAD16(p) vload16(0, (p))
#define SB_STORE16(v, p) vstore16((v), 0, (p))
#endif

// stage 2 (exp, sum): e = e^(z - ms) into the scratch (softmax only; the
// log-softmax needs only the sum), Kahan-summed per lane over pairwise
// chunk sums (d - dc is the lane sum).
typedef struct { float16 d, dc; } sb_sum;

FK_INLINE void sb_add(sb_sum *s, float16 e)
{
    float16 t = e - s->dc, u = s->d + t;
    s->dc = (u - s->d) - t;
    s->d = u;
}

FK_INLINE void sb_p2_chunk(sb_sum *s, sm_row r, size_t c, float scale, float ms, float *e_out)
{
    float16 e[CHUNK];
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) {
        e[k] = fk_expneg16(sm_z16(r, c + 16 * k, scale) - ms, 1.0f);
#if OUTPUT_MODE == 0
        SB_STORE16(e[k], e_out + c + 16 * k);
#endif
    }
    #pragma unroll
    for (int w = 1; w < CHUNK; w *= 2) {
        #pragma unroll
        for (int k = 0; k + w < CHUNK; k += 2 * w) e[k] += e[k + w];
    }
    sb_add(s, e[0]);
}

FK_INLINE float sb_p2_1(sm_row r, size_t c, float scale, float ms, float *e_out)
{
    const float e = fk_expneg(sm_z1(r, c, scale) - ms, 1.0f);
#if OUTPUT_MODE == 0
    e_out[c] = e;
#endif
    return e;
}

// stage 3 (output): y = e * f/D (softmax) or (z - ms) - log(D)
FK_INLINE void sb_p3_16(sm_row r, size_t c, float scale, sm_out o, const float *e_in,
                        __global sm_out_t *y)
{
#if OUTPUT_MODE == 0
    SM_STORE16(SB_LOAD16(e_in + c) * o.k, y + c);
#else
    SM_STORE16((sm_z16(r, c, scale) - o.ms) - o.k, y + c);
#endif
}

FK_INLINE float sb_p3_1(sm_row r, size_t c, float scale, sm_out o, const float *e_in)
{
#if OUTPUT_MODE == 0
    return e_in[c] * o.k;
#else
    return (sm_z1(r, c, scale) - o.ms) - o.k;
#endif
}

// One sweep over the columns running up to three stages, each on its own
// row: stage 1 on row ra (-> its max *Ma), stage 2 on row rb with safe max
// msb (-> scratch eb, sum *Db), stage 3 on row rc (scratch ec -> y row yc).
// do1/do2/do3 are compile-time constants after inlining. The vector columns
// [c0, c1) are those of yc's 64-byte aligned float16 blocks (stage 3's
// streaming stores need them); [0, c0) and [c1, n) are scalar.
FK_INLINE void sb_sweep(const int do1, const int do2, const int do3, size_t n, float scale,
                        sm_row ra, float *Ma,
                        sm_row rb, float msb, float *eb, float *Db,
                        sm_row rc, sm_out oc, const float *ec, __global sm_out_t *yc)
{
    size_t c0 = 0, c1 = n & ~(size_t)15;
    if (do3) {
        c0 = min(n, SM_HEAD(yc));
        c1 = c0 + ((n - c0) & ~(size_t)15);
    }
    const size_t cc = c0 + (c1 - c0) / (16 * CHUNK) * (16 * CHUNK);
    float16 mx = (float16)(-INFINITY);
    sb_sum s;
    s.d = (float16)0.0f;
    s.dc = (float16)0.0f;
    size_t c = c0;
    for (; c < cc; c += 16 * CHUNK) {
        if (do3) {
            #pragma unroll
            for (int k = 0; k < CHUNK; ++k) sb_p3_16(rc, c + 16 * k, scale, oc, ec, yc);
        }
        if (do1) sm_max_chunk(&mx, ra, c, scale);
        if (do2) sb_p2_chunk(&s, rb, c, scale, msb, eb);
    }
    for (; c < c1; c += 16) {
        if (do1) mx = fk_max16(mx, sm_z16(ra, c, scale));
        if (do2) {
            const float16 e = fk_expneg16(sm_z16(rb, c, scale) - msb, 1.0f);
#if OUTPUT_MODE == 0
            SB_STORE16(e, eb + c);
#endif
            sb_add(&s, e);
        }
        if (do3) sb_p3_16(rc, c, scale, oc, ec, yc);
    }
    if (do1) {
        float m = sm_hmax16(mx);
        for (c = 0; c < c0; ++c) m = fk_max(m, sm_z1(ra, c, scale));
        for (c = c1; c < n; ++c) m = fk_max(m, sm_z1(ra, c, scale));
        *Ma = m;
    }
    if (do2) {
        float d = sm_hsum16(s.d - s.dc);
        for (c = 0; c < c0; ++c) d += sb_p2_1(rb, c, scale, msb, eb);
        for (c = c1; c < n; ++c) d += sb_p2_1(rb, c, scale, msb, eb);
        *Db = d;
    }
    if (do3) {
        for (c = 0; c < c0; ++c) FK_SSTORE1(sb_p3_1(rc, c, scale, oc, ec), yc + c);
        for (c = c1; c < n; ++c) FK_SSTORE1(sb_p3_1(rc, c, scale, oc, ec), yc + c);
    }
}

#if HAS_ROW_FACTOR
#define SB_FACTOR(row) row_factor[row]
#else
#define SB_FACTOR(row) 1.0f
#endif
#define SB_ROW(row) sm_row_at(x, add_mask, bool_mask, (row), n, add_mask_row_stride, \
                              bool_mask_row_stride)

// rows [r0, r1) of the forward, n <= BLOCK_MAX_COLS
FK_INLINE void sm_forward_block(__global const fk_store_t *x, __global sm_out_t *y,
    __global const float *add_mask, __global const uchar *bool_mask,
    int r0, int r1, size_t n, int add_mask_row_stride, int bool_mask_row_stride,
    float scale, __global const float *row_factor)
{
    float sbuf[BLOCK_MAX_COLS];
    sm_out o;
    o.ms = 0.0f;
    o.k = 0.0f;
    float Ma = 0.0f, Mb = 0.0f, D = 0.0f;
    // stage 1 of row + 1 fused with stage 2 of row, then stage 3 of row
    // (also measured: the stages one after the other, ~15 % slower; stage 3
    // of r, 2 of r + 1 and 1 of r + 2 in one loop, no faster: NOTES)
    const sm_row first = SB_ROW(r0);
    sb_sweep(1, 0, 0, n, scale, first, &Ma, first, 0.0f, sbuf, &D, first, o, sbuf, y);
    for (int row = r0; row < r1; ++row) {
        const sm_row rc = SB_ROW(row);
        __global sm_out_t *yr = y + (size_t)row * n;
        if (row + 1 < r1)
            sb_sweep(1, 1, 0, n, scale, SB_ROW(row + 1), &Mb, rc, fk_safe_max(Ma), sbuf, &D,
                     rc, o, sbuf, yr);
        else
            sb_sweep(0, 1, 0, n, scale, rc, &Mb, rc, fk_safe_max(Ma), sbuf, &D, rc, o, sbuf, yr);
        o = sm_out_of(Ma, D, SB_FACTOR(row));
        sb_sweep(0, 0, 1, n, scale, rc, &Mb, rc, 0.0f, sbuf, &D, rc, o, sbuf, yr);
        Ma = Mb;
    }
    FK_NT_FENCE();
}
#undef SB_ROW
#endif // VARIANT == 1 && OUTPUT_MODE <= 1

// ===========================================================================
// VARIANT=2 (three-pass) and VARIANT=3 (two-pass, Dukhan & Ablavatski): see
// the top of the file. One row at a time, no pipelining, no scratch.
// ===========================================================================
#if (VARIANT == 2 || VARIANT == 3) && OUTPUT_MODE <= 1


// per-lane Kahan sum (d - dc is the lane sum)
typedef struct { float16 d, dc; } tp_sum;
FK_INLINE void tp_add(tp_sum *s, float16 e)
{
    float16 t = e - s->dc, u = s->d + t;
    s->dc = (u - s->d) - t;
    s->d = u;
}
// pairwise sum of CHUNK vectors (into e[0])
#define TP_PAIRWISE(e) do {                                                   \
    _Pragma("unroll") for (int w_ = 1; w_ < CHUNK; w_ *= 2) {                 \
        _Pragma("unroll") for (int k_ = 0; k_ + w_ < CHUNK; k_ += 2 * w_)     \
            (e)[k_] += (e)[k_ + w_];                                          \
    } } while (0)

#if VARIANT == 2
// ---- three-pass: max, sum of e^(z - max), output ----
FK_INLINE void tp_row3(sm_row r, __global sm_out_t *yr, size_t n, float scale, float f)
{
    const size_t nv = n & ~(size_t)15;
    const size_t cc = nv / (16 * CHUNK) * (16 * CHUNK);
    size_t c;
    // pass 1: M = max z
    float16 mx = (float16)(-INFINITY);
    for (c = 0; c < cc; c += 16 * CHUNK) sm_max_chunk(&mx, r, c, scale);
    for (; c < nv; c += 16) mx = fk_max16(mx, sm_z16(r, c, scale));
    float M = sm_hmax16(mx);
    for (; c < n; ++c) M = fk_max(M, sm_z1(r, c, scale));
    const float ms = fk_safe_max(M);     // all -inf: e^(z - 0) = 0, D = 0
    // pass 2: D = sum e^(z - ms), Kahan per lane over pairwise chunk sums
    tp_sum s;
    s.d = (float16)0.0f;
    s.dc = (float16)0.0f;
    for (c = 0; c < cc; c += 16 * CHUNK) {
        SM_PREFETCH_CHUNK(r, c);
        float16 e[CHUNK];
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k)
            e[k] = fk_expneg16(sm_z16(r, c + 16 * k, scale) - ms, 1.0f);
        TP_PAIRWISE(e);
        tp_add(&s, e[0]);
    }
    for (; c < nv; c += 16) tp_add(&s, fk_expneg16(sm_z16(r, c, scale) - ms, 1.0f));
    float D = sm_hsum16(s.d - s.dc);
    for (; c < n; ++c) D += fk_expneg(sm_z1(r, c, scale) - ms, 1.0f);
    // pass 3: output (the same pass-2 helpers as VARIANT=0)
    sm_p2_range(r, yr, 0, n, scale, sm_out_of(M, D, f));
}
#endif // VARIANT == 2

#if VARIANT == 3
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

FK_INLINE void tp_acc_add(tp_acc *s, float16 e)
{
    float16 t = e - s->Sc, u = s->S + t;
    s->Sc = (u - s->S) - t;
    s->S = u;
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
#if OUTPUT_MODE == 0
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
        TP_PAIRWISE(z);
        tp_acc_add(&s, z[0]);
    }
    for (; c < nv; c += 16) {
        float16 kf;
        const float16 z = sm_z16(r, c, scale);
        const float16 rr = tp_kr16(z, &kf);
        tp_raise(&s, kf);
        tp_acc_add(&s, tp_term16(z, rr, kf, s.N));
    }
    // lanes -> one (N, S): N = max lane N, S = sum S_l * 2^(N_l - N)
    const float N16 = sm_hmax16(s.N);
    float N = N16;
    float S = sm_hsum16((s.S - s.Sc) * tp_pow216(s.N - (float16)N16));
    for (; c < n; ++c) tp_step1(&N, &S, sm_z1(r, c, scale));
    // pass 2: y = e^r * 2^(k - N) * f/S, or (k - N) ln2 + r - log S.
    // Fully masked row: S = 0 -> 0 / -inf; NaN S (NaN or +inf z) -> NaN row.
#if OUTPUT_MODE == 0
    const float K = (S == 0.0f) ? 0.0f : f / S;
#else
    const float K = (S == 0.0f) ? 0.0f : log(S);
#endif
    // scalar head up to 64-byte aligned y, streaming float16 stores, tail
    const size_t c0 = min(n, SM_HEAD(yr));
    const size_t c1 = c0 + ((n - c0) & ~(size_t)15);
    for (c = 0; c < c0; ++c) { const float z = sm_z1(r, c, scale); FK_SSTORE1(tp_out(z, N, K), yr + c); }
    for (; c < c1; c += 16) {
        const float16 z = sm_z16(r, c, scale);
        SM_STORE16(tp_out16(z, N, K), yr + c);
    }
    for (; c < n; ++c) { const float z = sm_z1(r, c, scale); FK_SSTORE1(tp_out(z, N, K), yr + c); }
}
#endif // VARIANT == 3
#endif // (VARIANT == 2 || VARIANT == 3) && OUTPUT_MODE <= 1

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
#if VARIANT == 2 || VARIANT == 3
    for (int row = r0; row < r1; ++row) {
        const sm_row r = sm_row_at(x, add_mask, bool_mask, row, n,
                                   add_mask_row_stride, bool_mask_row_stride);
#if HAS_ROW_FACTOR
        const float f = row_factor[row];
#else
        const float f = 1.0f;
#endif
#if VARIANT == 2
        tp_row3(r, y + (size_t)row * n, n, scale, f);
#else
        tp_row2(r, y + (size_t)row * n, n, scale, f);
#endif
    }
    FK_NT_FENCE();
#else
#if VARIANT == 1
    if (n <= (size_t)BLOCK_MAX_COLS) {
        sm_forward_block(x, y, add_mask, bool_mask, r0, r1, n, add_mask_row_stride,
                         bool_mask_row_stride, scale, row_factor);
        return;
    }
#endif
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
            sm_p2_range(cur, yr, c0, n, scale, o);
        }
    }
    FK_NT_FENCE();
#endif // VARIANT 2/3
#endif
}

// ===========================================================================
// Rows split into column shards: what the host launches instead of
// softmax_forward when rows are fewer than the device's compute units can
// share (1 x 1M on 2 cores would leave one idle). Two launches, one
// work-item (WG_SIZE 1) per (row, shard), g = row * shards + shard; shard s
// holds columns [s * shard_cols, min(cols, (s + 1) * shard_cols)), never
// empty (the host makes shards = ceil(cols / shard_cols)).
//   softmax_shard_stats   the online pass over its shard: stats[2g] = m,
//                         stats[2g + 1] = d (any OUTPUT_MODE)
//   softmax_shard_output  merges its row's shard pairs, in shard order in
//                         every item (so all of a row's items agree bit for
//                         bit), then writes its shard of the output
//                         (OUTPUT_MODE 0/1), or, one item per row, the
//                         log-sum-exp (2) or the merged (m, d) (3)
// Same semantics, masks and options as softmax_forward; VARIANT and
// ROWS_PER_ITEM do not apply. Each shard's pass is the VARIANT=0 one.
// ===========================================================================
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_shard_stats(__global const fk_store_t *x,
    __global const float *add_mask, __global const uchar *bool_mask,
    int rows, int cols, int add_mask_row_stride, int bool_mask_row_stride,
    float scale, int shard_cols, int shards, __global float *stats)
{
    const size_t g = get_global_id(0);
    if (g >= (size_t)rows * (size_t)shards) return;
    const size_t n = (size_t)cols;
    size_t a, b;
    const int row = (int)fk_shard(g, shards, shard_cols, n, &a, &b);
    const size_t bv = a + ((b - a) & ~(size_t)15);
    const sm_row r = sm_row_at(x, add_mask, bool_mask, row, n,
                               add_mask_row_stride, bool_mask_row_stride);
    sm_acc s;
    sm_acc_init(&s);
    sm_p1_vectors(&s, r, a, bv, scale);
    float M, D;
    fk_online_reduce16(s.m, s.d - s.dc, &M, &D);
    for (size_t c = bv; c < b; ++c) fk_online_step(&M, &D, sm_z1(r, c, scale));
    stats[2 * g] = M;
    stats[2 * g + 1] = D;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_shard_output(__global const fk_store_t *x, __global sm_out_t *y,
    __global const float *add_mask, __global const uchar *bool_mask,
    int rows, int cols, int add_mask_row_stride, int bool_mask_row_stride,
    float scale, int shard_cols, int shards, __global const float *stats,
    __global const float *row_factor)
{
    const size_t g = get_global_id(0);
#if OUTPUT_MODE <= 1
    if (g >= (size_t)rows * (size_t)shards) return;
    const int row = (int)(g / (size_t)shards);
#else
    if (g >= (size_t)rows) return;
    const int row = (int)g;
#endif
    __global const float *pairs = stats + 2 * (size_t)row * (size_t)shards;
    float M = -INFINITY, D = 0.0f;
    for (int s = 0; s < shards; ++s) fk_online_merge(&M, &D, pairs[2 * s], pairs[2 * s + 1]);
#if OUTPUT_MODE == 2
    FK_SSTORE1(M + log(D), y + row);
#elif OUTPUT_MODE == 3
    y[2 * row] = M;
    y[2 * row + 1] = D;
#else
#if HAS_ROW_FACTOR
    const float f = row_factor[row];
#else
    const float f = 1.0f;
#endif
    const size_t n = (size_t)cols;
    size_t a, b;
    fk_shard(g, shards, shard_cols, n, &a, &b);
    const sm_row r = sm_row_at(x, add_mask, bool_mask, row, n,
                               add_mask_row_stride, bool_mask_row_stride);
    sm_p2_range(r, y + (size_t)row * n, a, b, scale, sm_out_of(M, D, f));
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
