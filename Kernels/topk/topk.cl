// topk/topk.cl — plain top-k over the last axis: the k largest p and their
// columns (OpenCL C 1.2). Entries: topk (row-wise), topk_shards + topk_merge
// (column shards).
//
// Launch rules, views, options, order and selection: topk/list.h.
//
// Semantics: orders p itself and outputs p's values. A row containing NaN
// -> values NaN, indices -1 (a per-lane flag catches it: the max tree and
// the compares drop NaN); +inf is an ordinary largest value; a row of all
// -inf -> values -inf, indices 0..k-1. Shards: a shard's stats pair is
// (1 if it holds a NaN else 0, 0).
#include "topk/list.h"

// The selection over the n columns at pr (column numbers start at a): the
// top-k list l; returns whether a NaN was seen (the max tree and the
// compares drop NaN, so a per-lane flag catches it).
FK_INLINE int tk_select_pass(__global const fk_store_t *pr, size_t n, int a, tk_list *lp)
{
    const size_t nv = n & ~(size_t)15;
    const size_t nc = n / (16 * CHUNK) * (16 * CHUNK);
#define TK_LOADP(o) FK_SLOAD16(pr + (o))
    TK_ROW_BOUND(TK_LOADP)
    tk_list l;
    tk_list_init(&l, t0);
    int16 nan16 = (int16)0;
    size_t c = 0;
    for (; c < nc; c += 16 * CHUNK) {
        float16 z[CHUNK];
        FK_PREFETCH_CHUNK(pr + c);
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k) {
            z[k] = TK_LOADP(c + 16 * k);
            nan16 |= isnan(z[k]);
        }
        const float16 cm = tk_chunk_max(z);
        if (!l.full || fk_any16(cm > (float16)l.thr))
            tk_offer_vecs(&l, z, cm, a + (int)c, CHUNK);
    }
    for (; c < nv; c += 16) {
        float16 z[1];
        z[0] = TK_LOADP(c);
        nan16 |= isnan(z[0]);
        if (!l.full || fk_any16(z[0] > (float16)l.thr))
            tk_offer_vecs(&l, z, z[0], a + (int)c, 1);
    }
#undef TK_LOADP
    int bad = fk_any16(nan16);
    for (; c < n; ++c) {
        const float z = FK_SLOAD1(pr + c);
        bad |= isnan(z);
        tk_offer(&l, z, a + (int)c);
    }
    *lp = l;
    return bad;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk(__global const fk_store_t *p, __global fk_store_t *values,
    __global int *indices, int rows, int cols, long p_offset, long p_row_stride)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    for (int row = r0; row < r1; ++row) {
        tk_list l;
        const int bad = tk_select_pass(p + p_offset + (long)row * p_row_stride, n, 0, &l);
        tk_write_plain(values + (size_t)row * TOPK, indices + (size_t)row * TOPK, &l, bad);
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_shards(__global const fk_store_t *p, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    long p_offset, long p_row_stride, int shard_cols, int shards)
{
    const size_t g = get_global_id(0);
    if (g >= (size_t)rows * (size_t)shards) return;
    const size_t n = (size_t)cols;
    size_t a, b;
    const size_t row = fk_shard(g, shards, shard_cols, n, &a, &b);
    tk_list l;
    const int bad = tk_select_pass(p + p_offset + (long)row * p_row_stride + a, b - a, (int)a, &l);
    tk_store_candidates(cand_z, cand_i, g, &l);
    stats[2 * g] = bad ? 1.0f : 0.0f;
    stats[2 * g + 1] = 0.0f;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_merge(__global const float *cand_z, __global const int *cand_i,
    __global const float *stats, __global fk_store_t *values, __global int *indices,
    int rows, int shards)
{
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    const size_t g0 = row * (size_t)shards;
    int bad = 0;
    for (size_t g = g0; g < g0 + (size_t)shards; ++g) bad |= stats[2 * g] != 0.0f;
    tk_list l;
    tk_merge_candidates(&l, cand_z, cand_i, g0, shards);
    tk_write_plain(values + row * TOPK, indices + row * TOPK, &l, bad);
}
