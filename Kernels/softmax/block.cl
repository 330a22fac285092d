// softmax/block.cl — softmax_block: the block softmax forward for rows that
// fit in cache, OUTPUT_MODE 0 (softmax) and 1 (log-softmax) (OpenCL C 1.2).
//
// Launch rule, options, views and semantics: softmax/row.h. Here also:
//   BLOCK_MAX_COLS size in floats of the per-work-item __private scratch
//                  row. The host guarantees cols <= BLOCK_MAX_COLS (longer
//                  rows go to softmax_online); there is no fallback inside.
//                                                             default 16384
//
// Per row:
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
// over the rows of a work-item: stage 1 of row r+1 runs in the loop of
// stage 2 of row r, so its memory read overlaps the exp work; the software
// prefetch was worth +30 % on its own (the read stream was latency-bound,
// not bandwidth-bound). Measured on PoCL pthread (2 cores): 4096x4096
// softmax ~30-35 GB/s vs ~18-20 for softmax_online (copy ~60).
#include "softmax/row.h"

#if OUTPUT_MODE > FK_OUTPUT_LOG_SOFTMAX
#error "softmax_block: OUTPUT_MODE 0 or 1 (log-sum-exp and statistics: online.cl)"
#endif
#ifndef BLOCK_MAX_COLS
#define BLOCK_MAX_COLS 16384
#endif

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

FK_INLINE void sb_p2_chunk(sb_sum *s, sm_row r, size_t c, float scale, float ms, float *e_out)
{
    float16 e[CHUNK];
    #pragma unroll
    for (int k = 0; k < CHUNK; ++k) {
        e[k] = fk_expneg16(sm_z16(r, c + 16 * k, scale) - ms, 1.0f);
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
        SB_STORE16(e[k], e_out + c + 16 * k);
#endif
    }
    SM_PAIRWISE(e);
    fk_kahan16(&s->d, &s->dc, e[0]);
}

FK_INLINE float sb_p2_1(sm_row r, size_t c, float scale, float ms, float *e_out)
{
    const float e = fk_expneg(sm_z1(r, c, scale) - ms, 1.0f);
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    e_out[c] = e;
#else
    (void)e_out;
#endif
    return e;
}

// stage 3 (output): y = e * f/D (softmax) or (z - ms) - log(D)
FK_INLINE void sb_p3_16(sm_row r, size_t c, float scale, sm_out o, const float *e_in,
                        __global sm_out_t *y)
{
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    (void)r;
    (void)scale;
    SM_STORE16(SB_LOAD16(e_in + c) * o.k, y + c);
#else
    (void)e_in;
    SM_STORE16((sm_z16(r, c, scale) - o.ms) - o.k, y + c);
#endif
}

FK_INLINE float sb_p3_1(sm_row r, size_t c, float scale, sm_out o, const float *e_in)
{
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    (void)r;
    (void)scale;
    return e_in[c] * o.k;
#else
    (void)e_in;
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
        c0 = min(n, FK_HEAD(yc));
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
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
            SB_STORE16(e, eb + c);
#endif
            fk_kahan16(&s.d, &s.dc, e);
        }
        if (do3) sb_p3_16(rc, c, scale, oc, ec, yc);
    }
    if (do1) {
        float m = fk_hmax16(mx);
        for (c = 0; c < c0; ++c) m = fk_max(m, sm_z1(ra, c, scale));
        for (c = c1; c < n; ++c) m = fk_max(m, sm_z1(ra, c, scale));
        *Ma = m;
    }
    if (do2) {
        float d = fk_hsum16(s.d - s.dc);
        for (c = 0; c < c0; ++c) d += sb_p2_1(rb, c, scale, msb, eb);
        for (c = c1; c < n; ++c) d += sb_p2_1(rb, c, scale, msb, eb);
        *Db = d;
    }
    if (do3) {
        for (c = 0; c < c0; ++c) FK_SSTORE1(sb_p3_1(rc, c, scale, oc, ec), yc + c);
        for (c = c1; c < n; ++c) FK_SSTORE1(sb_p3_1(rc, c, scale, oc, ec), yc + c);
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_block(SM_X_PARAMS, SM_Y_PARAMS, __global const float *row_factor)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    if (r0 >= r1) return;
    float sbuf[BLOCK_MAX_COLS];
    sm_out o;
    o.ms = 0.0f;
    o.k = 0.0f;
    float Ma = 0.0f, Mb = 0.0f, D = 0.0f;
    // stage 1 of row + 1 fused with stage 2 of row, then stage 3 of row
    // (also measured: the stages one after the other, ~15 % slower; stage 3
    // of r, 2 of r + 1 and 1 of r + 2 in one loop, no faster: NOTES)
    const sm_row first = SM_ROW(r0);
    sb_sweep(1, 0, 0, n, scale, first, &Ma, first, 0.0f, sbuf, &D, first, o, sbuf, y);
    for (int row = r0; row < r1; ++row) {
        const sm_row rc = SM_ROW(row);
        __global sm_out_t *yr = SM_YROW(row);
        if (row + 1 < r1)
            sb_sweep(1, 1, 0, n, scale, SM_ROW(row + 1), &Mb, rc, fk_safe_max(Ma), sbuf, &D,
                     rc, o, sbuf, yr);
        else
            sb_sweep(0, 1, 0, n, scale, rc, &Mb, rc, fk_safe_max(Ma), sbuf, &D, rc, o, sbuf, yr);
#if OUTPUT_MODE == FK_OUTPUT_LOG_SOFTMAX
        // R = D - 1; a peaked row (D ~ 1) sums R again without the max's unit
        // (row.h, sm_rest; the row is still in cache)
        const float R = (D < SM_PEAKED_D && Ma > -INFINITY) ? sm_rest(rc, 0, n, scale, Ma) : D - 1.0f;
        o = sm_out_of(Ma, R, SM_FACTOR(row));
#else
        o = sm_out_of(Ma, D, SM_FACTOR(row));
#endif
        sb_sweep(0, 0, 1, n, scale, rc, &Mb, rc, 0.0f, sbuf, &D, rc, o, sbuf, yr);
        Ma = Mb;
    }
    FK_NT_FENCE();
}
