// topk/group.cl — the GPU preset of top-k and fused softmax + top-k: a
// work-group per row (or per column shard of a row) selects its k best in
// __local memory (OpenCL C 1.2). Entries: topk_group, softmax_topk_group
// (whole rows), topk_group_shards, softmax_topk_group_shards (shards, merged
// afterwards by topk.cl's topk_merge or softmax_topk.cl's softmax_topk_merge
// with WG_SIZE 1).
//
// LAUNCH RULE (1-D, local = WG_SIZE, a power of two >= 4): whole rows: group r =
// row r, global = rows * WG_SIZE; shards: group g = row * shards + shard,
// global = rows * shards * WG_SIZE, with the candidates and stats of
// topk/list.h's shard rule. The group holds TG_CAP (z, column) pairs in
// __local memory (8 * TG_CAP bytes, TG_CAP = 2 * max(pow2(k), 4 * WG_SIZE))
// and 12 bytes per item; the host keeps that within the device's local
// memory (TopKPlan.groupSize).
// Build options: TOPK, DTYPE, WG_SIZE (topk/list.h).
//
// Work split: the columns [a, b) are cut at x's 4-element alignment (as
// softmax/group.h): a scalar head, tiles of 4 * WG_SIZE columns where item
// t loads the aligned 4-column vector t of the tile (a warp's loads: 512
// contiguous bytes for float, 256 for 16-bit types), and a scalar tail,
// in column order (head, tiles, tail).
// Selection is group-wide, with no per-item lists: a candidate buffer of
// TG_CAP pairs in __local memory and an admission threshold thr shared by
// the group. Until k pairs are kept (thr = -inf), a tile's elements go to
// fixed slots n + j*WG_SIZE + t (element j of item t; NaN and missing
// elements as the sentinel (-inf, INT_MAX)); once k are kept, only elements
// with z > thr enter (later columns lose ties to kept ones), each item
// reserving its slots with one atomic_add on the buffer's count. When the
// buffer could not take another tile, the group sorts it (bitonic network
// over the used power of two, pairs (i, i + stride) with i = the pair index
// with a 0 bit inserted at stride: at most 2-way bank conflicts) in the
// output order (descending z, ties to the lower column), keeps the first k
// and sets thr to the k-th value. A last sort gives the result. The order is
// total, so the result does not depend on the order of the atomics; reruns
// are bit-identical. Two barriers per tile, ~log2(TG_CAP)^2 / 2 per sort.
// Softmax: each item keeps an online (m, d) (lib/online.h's fk_acc4), the
// items' pairs merged by a fixed tree at the end; a NaN flag per group.
// Semantics: those of topk.cl and softmax_topk.cl (NaN rows, +inf, -inf rows).
#include "topk/list.h"
#include "lib/online.h"

#if WG_SIZE < 4 || (WG_SIZE & (WG_SIZE - 1)) != 0
#error "topk/group.cl needs WG_SIZE a power of two >= 4 (the head and tail: a column per item)"
#endif

// the least power of two >= TOPK (TOPK <= 256)
#define TG_KP (TOPK <= 1 ? 1 : TOPK <= 2 ? 2 : TOPK <= 4 ? 4 : TOPK <= 8 ? 8 : TOPK <= 16 ? 16 : \
               TOPK <= 32 ? 32 : TOPK <= 64 ? 64 : TOPK <= 128 ? 128 : 256)
#define TG_T (4 * WG_SIZE)   // columns per tile
#define TG_CAP (2 * (TG_KP > TG_T ? TG_KP : TG_T))
#define TG_RADIX 16

// the group's state in __local memory (kernel scope, as OpenCL C 1.2 requires)
typedef struct {
    __local float *cz;
    __local int *ci;
    __local int *cnt;   // [0] the buffer's count, [1] the NaN flag
    __local float *lm, *ld;
} tg_mem;

// one tile's offer: this item's nz values z[] at columns col[]
typedef struct {
    int n;        // pairs in the buffer (uniform)
    int full;     // k real pairs kept (uniform)
    float thr;    // the k-th kept value once full (uniform)
    int bad;      // this item saw a NaN
} tg_state;

// Every barrier of the selection is in straight-line code or in a loop with
// a trip count the whole group shares (PoCL replicates the code after a
// barrier under a branch: with the compaction as a branch, one kernel took
// minutes to compile; as a loop, seconds).

// Compaction step st of nst (st = 0: sentinels past n up to the used power
// of two p; 1 .. nst - 2: the bitonic sort's stages in order; nst - 1: keep
// the first TOPK, update full, thr and the count). The caller puts a barrier
// after each.
FK_INLINE void tg_compact_step(tg_mem g, tg_state *s, int lid, int p, int st, int nst)
{
    if (st == 0) {
        for (int i = s->n + lid; i < p; i += WG_SIZE) {
            g.cz[i] = -INFINITY;
            g.ci[i] = INT_MAX;
        }
    } else if (st < nst - 1) {
        // stage st - 1 of the network: block size 2^a, a = 1, 2, ..., and
        // strides 2^(a-1) down to 1 within each
        int a = 1, r = st - 1;
        while (r >= a) {
            r -= a;
            ++a;
        }
        const int size = 1 << a, stride = size >> (1 + r);
        for (int q = lid; q < p / 2; q += WG_SIZE) {
            const int i = ((q & ~(stride - 1)) << 1) | (q & (stride - 1)), j = i + stride;
            const float zi = g.cz[i], zj = g.cz[j];
            const int ii = g.ci[i], ij = g.ci[j];
            // blocks of `size` alternate: best first where bit `size` of i is 0
            if (((i & size) == 0) ? TK_BEATS(zj, ij, zi, ii) : TK_BEATS(zi, ii, zj, ij)) {
                g.cz[i] = zj;
                g.cz[j] = zi;
                g.ci[i] = ij;
                g.ci[j] = ii;
            }
        }
    } else {
        if (s->n > TOPK) s->n = TOPK;
        if (s->n == TOPK && g.ci[TOPK - 1] != INT_MAX) {
            s->full = 1;
            s->thr = g.cz[TOPK - 1];
        }
        if (lid == 0) g.cnt[0] = s->n;   // the next round's atomics come after the barrier
    }
}

// This item's part of one tile: its nz (0..4) values z at columns c0 +
// j*cstep into the buffer (no barrier; lid 0 advances the count while
// filling, the atomics once full)
FK_INLINE void tg_append(tg_mem g, tg_state *s, int lid, float4 z, int c0, int cstep, int nz)
{
    const float v[4] = { z.s0, z.s1, z.s2, z.s3 };
    #pragma unroll
    for (int j = 0; j < 4; ++j) s->bad |= j < nz && isnan(v[j]);
    if (!s->full) {
        // fixed slots n + j*WG_SIZE + lid: adjacent items, adjacent words
        #pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int ok = j < nz && !isnan(v[j]);
            g.cz[s->n + j * WG_SIZE + lid] = ok ? v[j] : -INFINITY;
            g.ci[s->n + j * WG_SIZE + lid] = ok ? c0 + j * cstep : INT_MAX;
        }
        if (lid == 0) g.cnt[0] = s->n + TG_T;
    } else {
        int m = 0;
        #pragma unroll
        for (int j = 0; j < 4; ++j) m += j < nz && v[j] > s->thr;
        if (m > 0) {
            int pos = atomic_add(g.cnt, m);
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                if (j < nz && v[j] > s->thr) {
                    g.cz[pos] = v[j];
                    g.ci[pos] = c0 + j * cstep;
                    ++pos;
                }
            }
        }
    }
}

// The group's pass over [a, b) of the row at xr (z = scale * x): on return
// the buffer's first TOPK pairs are the result (for every item), *bad the
// group's NaN flag and, with_stats, (m, d) the group's pair (every item).
// Tiles in column order: the head (when there is one), the body's tiles of
// TG_T columns, the tail (when there is one), then a last round that only
// sorts.
FK_INLINE void tg_select(tg_mem g, __global const fk_store_t *xr, size_t a, size_t b, float scale,
                         int with_stats, int *bad, float *m, float *d)
{
    const int lid = (int)get_local_id(0);
    tg_state s = { 0, 0, -INFINITY, 0 };
    fk_acc4 acc;
    fk_acc4_init(&acc, 0);
    if (lid == 0) {
        g.cnt[0] = 0;
        g.cnt[1] = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    // the cut at 4-element alignment (bytes of 4 elements)
    const size_t vb = 4 * sizeof(fk_store_t);
    const size_t v0 = a + min(b - a, ((vb - ((size_t)(xr + a) % vb)) % vb) / sizeof(fk_store_t));
    const size_t v1 = v0 + ((b - v0) & ~(size_t)3);
    const int head = v0 > a, tail = b > v1;
    const int body = (int)((v1 - v0 + TG_T - 1) / TG_T), rounds = head + body + tail + 1;
    for (int round = 0; round < rounds; ++round) {
        const int last = round == rounds - 1;
        if (!last) {
            float4 z = (float4)0.0f;
            int c0, cstep = 0, nz = 0;
            if (round < head) {                               // head: column a + lid
                c0 = (int)a + lid;
                if ((size_t)lid < v0 - a) {
                    z = (float4)(FK_SLOAD1(xr + a + lid) * scale);
                    nz = 1;
                }
            } else if (round < head + body) {                 // a body tile
                const size_t c = v0 + (size_t)(round - head) * TG_T + 4 * (size_t)lid;
                c0 = (int)c;
                cstep = 1;
                if (c < v1) {
#if DTYPE == 0
                    z = *(__global const float4 *)(xr + c) * scale;
#else
                    const ushort4 u = *(__global const ushort4 *)(xr + c);
#if DTYPE == 1
                    z = vload_half4(0, (__private const half *)&u) * scale;
#else
                    z = as_float4(convert_uint4(u) << 16) * scale;
#endif
#endif
                    nz = 4;
                }
            } else {                                          // tail: column v1 + lid
                c0 = (int)v1 + lid;
                if ((size_t)lid < b - v1) {
                    z = (float4)(FK_SLOAD1(xr + v1 + lid) * scale);
                    nz = 1;
                }
            }
            if (with_stats) {
                if (nz == 4) fk_acc4_push4(&acc, z, 0);
                else if (nz == 1) fk_acc4_push1(&acc, z.s0, 0);
            }
            tg_append(g, &s, lid, z, c0, cstep, nz);
        } else if (s.bad) {
            atomic_or(g.cnt + 1, 1);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        s.n = g.cnt[0];
        barrier(CLK_LOCAL_MEM_FENCE);   // every item has read the count
        // compaction when the buffer could not take another tile, and in the
        // last round unless the first TOPK are already the sorted result
        const int need = last ? !(s.n <= TOPK && s.full) : s.n > TG_CAP - TG_T;
        int p = 1;
        while (p < s.n) p <<= 1;
        int lg = 0;
        while ((1 << lg) < p) ++lg;
        const int nst = need ? lg * (lg + 1) / 2 + 2 : 0;
        for (int st = 0; st < nst; ++st) {
            tg_compact_step(g, &s, lid, p, st, nst);
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    *bad = g.cnt[1];
    *m = -INFINITY;
    *d = 0.0f;
    if (with_stats) {
        // the items' (m, d) by a fixed tree of TG_RADIX-way levels
        float mm, dd;
        fk_acc4_pair(&acc, &mm, &dd);
        g.lm[lid] = mm;
        g.ld[lid] = dd;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int n = WG_SIZE; n > 1;) {
            const int w = (n + TG_RADIX - 1) / TG_RADIX;
            if (lid < w) {
                for (int q = lid + w; q < n; q += w) fk_online_merge(&mm, &dd, g.lm[q], g.ld[q]);
                g.lm[lid] = mm;
                g.ld[lid] = dd;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            n = w;
        }
        *m = g.lm[0];
        *d = g.ld[0];
    }
}

// The group's __local arrays (kernel scope, as OpenCL C 1.2 requires).
#define TG_LOCALS                                                              \
    __local float tg_z[TG_CAP], tg_m[WG_SIZE], tg_d[WG_SIZE];                  \
    __local int tg_i[TG_CAP], tg_cnt[2];                                       \
    const tg_mem g = { tg_z, tg_i, tg_cnt, tg_m, tg_d };                       \
    const size_t lid = get_local_id(0);                                        \
    float m, d;                                                                \
    int bad

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_group(__global const fk_store_t *p, __global fk_store_t *values,
    __global int *indices, int rows, int cols, long p_offset, long p_row_stride)
{
    const size_t row = get_group_id(0);
    (void)rows;
    TG_LOCALS;
    tg_select(g, p + p_offset + (long)row * p_row_stride, 0, (size_t)cols, 1.0f, 0, &bad, &m, &d);
    for (size_t j = lid; j < TOPK; j += WG_SIZE) {   // adjacent items, adjacent outputs
        FK_SSTORE1(bad ? NAN : tg_z[j], values + row * TOPK + j);
        indices[row * TOPK + j] = bad ? -1 : tg_i[j];
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_group(__global const fk_store_t *x, __global fk_store_t *values,
    __global int *indices, int rows, int cols, long x_offset, long x_row_stride, float scale)
{
    const size_t row = get_group_id(0);
    (void)rows;
    TG_LOCALS;
    tg_select(g, x + x_offset + (long)row * x_row_stride, 0, (size_t)cols, scale, 1, &bad, &m, &d);
    // as tk_write_softmax: NaN D (a NaN or +inf z) -> NaN, -1; D = 0 -> 0
    const float ms = fk_safe_max(m), inv = (d == 0.0f) ? 0.0f : 1.0f / d;
    for (size_t j = lid; j < TOPK; j += WG_SIZE) {
        FK_SSTORE1(isnan(d) ? NAN : fk_exp(tg_z[j] - ms) * inv, values + row * TOPK + j);
        indices[row * TOPK + j] = isnan(d) ? -1 : tg_i[j];
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_group_shards(__global const fk_store_t *p, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    long p_offset, long p_row_stride, int shard_cols, int shards)
{
    const size_t gid = get_group_id(0);
    (void)rows;
    size_t a, b;
    const size_t row = fk_shard(gid, shards, shard_cols, (size_t)cols, &a, &b);
    TG_LOCALS;
    tg_select(g, p + p_offset + (long)row * p_row_stride, a, b, 1.0f, 0, &bad, &m, &d);
    for (size_t j = lid; j < TOPK; j += WG_SIZE) {
        cand_z[gid * TOPK + j] = tg_z[j];
        cand_i[gid * TOPK + j] = tg_i[j];
    }
    if (lid == 0) {
        stats[2 * gid] = bad ? 1.0f : 0.0f;
        stats[2 * gid + 1] = 0.0f;
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_group_shards(__global const fk_store_t *x, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    long x_offset, long x_row_stride, int shard_cols, int shards, float scale)
{
    const size_t gid = get_group_id(0);
    (void)rows;
    size_t a, b;
    const size_t row = fk_shard(gid, shards, shard_cols, (size_t)cols, &a, &b);
    TG_LOCALS;
    tg_select(g, x + x_offset + (long)row * x_row_stride, a, b, scale, 1, &bad, &m, &d);
    for (size_t j = lid; j < TOPK; j += WG_SIZE) {
        cand_z[gid * TOPK + j] = tg_z[j];
        cand_i[gid * TOPK + j] = tg_i[j];
    }
    if (lid == 0) {
        stats[2 * gid] = m;
        stats[2 * gid + 1] = d;
    }
}
