// topk/softmax_topk.cl — fused softmax + top-k over the last axis: the k
// largest probabilities of softmax(scale*x) and their columns, in one read
// of the row (OpenCL C 1.2). Entries: softmax_topk (row-wise),
// softmax_topk_shards + softmax_topk_merge (column shards).
//
// Launch rules, views, options, order and selection: topk/list.h. Here also:
//   TK_MARGIN      lag allowed to the per-lane reference max      default 32
//   TK_EXP_DEG     4 or 5: exp polynomial of the normalizer sum  default 4
//
// Semantics: z = scale*x; values are the softmax probabilities e^(z - M) / D
// of the k largest z, with (M, D) the row's online-normalizer statistics
// (Milakov & Gimelshein) computed in the same, single read of the row. A
// row containing NaN or +inf (inf - inf = NaN) -> values NaN, indices -1; a
// row of all -inf -> values 0, indices 0..k-1. Shards: a shard's stats pair
// is its (m, d), merged in shard order.
//
// Per-lane online (m, d) accumulators (Kahan-compensated d) with a lazy
// reference max (moved only when a lane max passes it by TK_MARGIN), merged
// at the end of the row; the list's threshold test compares the chunk max
// with min(m + margin, thr), so both slow paths share one vector compare.
// Cost per float16 vector on the fast path: load (x scale), one max, the
// 9-op exp of the normalizer sum, one add.
#include "topk/list.h"
#include "lib/online.h"

// e^x for the terms of the normalizer sum d (x = z - ms <= TK_MARGIN, or
// -inf, or NaN). Cheaper than fk_expneg16 (9 vector ops instead of 11):
// * x is clamped below at -87 with one max (a NaN stays NaN, see fk_max16):
//   e^-87 = 1.6e-38 stands for every smaller term, -inf included. Those are
//   < 1.6e-38 of the row's largest term (d >= 1 once a lane has a finite
//   element, ms being one of them), so d changes by < 2^31 * 1.6e-38
//   relative; a row of all -inf gets a tiny d > 0 and its outputs
//   e^(-inf)/d are still exactly 0.
// * degree-4 polynomial (minimax for relative error on [-ln2/2, ln2/2],
//   constant 1): rel. err 2.9e-6 (fk_exp's degree 5: 1.5e-7). It enters the
//   probabilities only through d: <= 3e-6 relative. -DTK_EXP_DEG=5 restores
//   the degree-5 coefficients of common.h.
#ifndef TK_EXP_DEG
#define TK_EXP_DEG 4
#endif
FK_INLINE float16 tk_exps16(float16 x)
{
    x = fk_max16(x, (float16)(-87.0f));
    const float16 k = fma(x, (float16)FK_LOG2E, (float16)FK_EXP_MAGICB);
    const float16 n = k - (float16)FK_EXP_MAGICB;
    const float16 r = fma(n, (float16)(-FK_LN2F), x);
#if TK_EXP_DEG == 4
    float16 p = fma((float16)0.04151490330696106f, r, (float16)0.16787461936473846f);
    p = fma(p, r, (float16)0.5000300407409668f);
    p = fma(p, r, (float16)0.9999668598175049f);
#else
    float16 p = fma((float16)FK_EXP_P5, r, (float16)FK_EXP_P4);
    p = fma(p, r, (float16)FK_EXP_P3);
    p = fma(p, r, (float16)FK_EXP_P2);
    p = fma(p, r, (float16)FK_EXP_P1);
#endif
    p = fma(p, r, (float16)1.0f);
    return p * as_float16(as_uint16(k) << 23);
}

// Per-lane online normalizer with a lazy reference: d = sum of e^(z - ms)
// where ms = m with -inf -> 0 and m is a reference that lags the lane's true
// max by at most TK_MARGIN (e^(z - ms) <= e^TK_MARGIN: no overflow, even
// summed over 2^31 columns, and fk_expneg16 is exact enough for x <= 88).
// m moves only when a chunk's lane max cm exceeds m + TK_MARGIN: once per
// lane on typical rows, instead of every time the lane max grows (which
// is most chunks of a 4096-column row). m is always an element of the lane
// (or -inf), so the (m, d) pairs merge exactly like true (max, sum) pairs.
// d - dc is a Kahan sum. gate = min(m + TK_MARGIN, thr) lane-wise: a chunk
// whose lane max never exceeds gate changes neither m nor the (full) list.
#ifndef TK_MARGIN
#define TK_MARGIN 32.0f
#endif
typedef struct {
    float16 m, ms, mlim, d, dc, gate;
} tk_acc;

FK_INLINE float16 tk_min16(float16 a, float16 b) { return (b < a) ? b : a; }

FK_INLINE void tk_acc_init(tk_acc *s)
{
    s->m = (float16)(-INFINITY);
    s->ms = (float16)0.0f;
    s->mlim = (float16)(-INFINITY);
    s->d = (float16)0.0f;
    s->dc = (float16)0.0f;
    s->gate = (float16)(-INFINITY);
}

// slow path of a chunk: move the reference of lanes whose max passed
// m + TK_MARGIN (to cm, the lane's new true max), offer the lanes that can
// enter the list, refresh the gate. (m + TK_MARGIN rounds to m for huge m:
// then any larger cm moves the reference.)
FK_INLINE void tk_slow(tk_acc *s, tk_list *l, const float16 *z, float16 cm, int c, int nvec)
{
    const int16 up = cm > s->mlim;
    if (fk_any16(up)) {
        float16 mn = up ? cm : s->m;
        float16 msn = fk_safe_max16(mn);
        // m = -inf lanes: -inf - msn -> 0 (d is 0 there); unchanged: e^0 = 1
        float16 f = fk_expneg16(s->m - msn, 1.0f);
        s->d *= f;
        s->dc *= f;
        s->m = mn;
        s->ms = msn;
        s->mlim = mn + TK_MARGIN;
    }
    tk_offer_vecs(l, z, cm, c, nvec);
    s->gate = tk_min16(s->mlim, (float16)l->thr);
}

// The fused pass over the n columns at xr (column numbers start at a): the
// top-k list l and the online statistics (M, D) of those columns.
FK_INLINE void tk_softmax_pass(__global const fk_store_t *xr, size_t n, int a, float scale,
                               tk_list *lp, float *M, float *D)
{
    const size_t nv = n & ~(size_t)15;
    const size_t nc = n / (16 * CHUNK) * (16 * CHUNK);
#define TK_LOADX(o) (FK_SLOAD16(xr + (o)) * scale)
    TK_ROW_BOUND(TK_LOADX)
    tk_list l;
    tk_list_init(&l, t0);
    tk_acc s;
    tk_acc_init(&s);
    size_t c = 0;
    for (; c < nc; c += 16 * CHUNK) {
        float16 z[CHUNK];
        FK_PREFETCH_CHUNK(xr + c);
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k) z[k] = TK_LOADX(c + 16 * k);
        const float16 cm = tk_chunk_max(z);
        if (!l.full || fk_any16(cm > s.gate)) tk_slow(&s, &l, z, cm, a + (int)c, CHUNK);
        float16 e[CHUNK];
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k) e[k] = tk_exps16(z[k] - s.ms);
        #pragma unroll
        for (int w = 1; w < CHUNK; w *= 2) {         // pairwise chunk sum
            #pragma unroll
            for (int k = 0; k + w < CHUNK; k += 2 * w) e[k] += e[k + w];
        }
        fk_kahan16(&s.d, &s.dc, e[0]);
    }
    for (; c < nv; c += 16) {
        float16 z[1];
        z[0] = TK_LOADX(c);
        if (!l.full || fk_any16(z[0] > s.gate)) tk_slow(&s, &l, z, z[0], a + (int)c, 1);
        fk_kahan16(&s.d, &s.dc, tk_exps16(z[0] - s.ms));
    }
#undef TK_LOADX
    fk_online_reduce16(s.m, s.d - s.dc, M, D);
    for (; c < n; ++c) {
        const float z = FK_SLOAD1(xr + c) * scale;
        fk_online_step(M, D, z);
        tk_offer(&l, z, a + (int)c);
    }
    *lp = l;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk(__global const fk_store_t *x, __global fk_store_t *values,
    __global int *indices, int rows, int cols, long x_offset, long x_row_stride, float scale)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    for (int row = r0; row < r1; ++row) {
        tk_list l;
        float M, D;
        tk_softmax_pass(x + x_offset + (long)row * x_row_stride, n, 0, scale, &l, &M, &D);
        tk_write_softmax(values + (size_t)row * TOPK, indices + (size_t)row * TOPK, &l, M, D);
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_shards(__global const fk_store_t *x, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    long x_offset, long x_row_stride, int shard_cols, int shards, float scale)
{
    const size_t g = get_global_id(0);
    if (g >= (size_t)rows * (size_t)shards) return;
    const size_t n = (size_t)cols;
    size_t a, b;
    const size_t row = fk_shard(g, shards, shard_cols, n, &a, &b);
    tk_list l;
    float M, D;
    tk_softmax_pass(x + x_offset + (long)row * x_row_stride + a, b - a, (int)a, scale, &l, &M, &D);
    tk_store_candidates(cand_z, cand_i, g, &l);
    stats[2 * g] = M;
    stats[2 * g + 1] = D;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_merge(__global const float *cand_z, __global const int *cand_i,
    __global const float *stats, __global fk_store_t *values, __global int *indices,
    int rows, int shards)
{
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    const size_t g0 = row * (size_t)shards;
    float M = -INFINITY, D = 0.0f;
    for (size_t g = g0; g < g0 + (size_t)shards; ++g) fk_online_merge(&M, &D, stats[2 * g], stats[2 * g + 1]);
    tk_list l;
    tk_merge_candidates(&l, cand_z, cand_i, g0, shards);
    tk_write_softmax(values + row * TOPK, indices + row * TOPK, &l, M, D);
}
