// topk/list.h — what the top-k kernels share (softmax_topk.cl, topk.cl):
// the private top-k list and its selection helpers, the row-wise and shard
// launch rules, the common options (OpenCL C 1.2).
//
// LAUNCH RULE (softmax_topk and topk, 1-D NDRange):
//   items  = ceil(rows / ROWS_PER_ITEM)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i owns rows [i*ROWS_PER_ITEM, min(rows, (i+1)*ROWS_PER_ITEM))
//   (items past `rows` return). Work-items never cooperate: no barriers, no
//   __local memory.
// Rows split into column shards, for rows too few for the compute units (a
// batch of one over a vocabulary): *_shards launch one work-item per (row,
// shard), g = row * shards + shard, global = round_up(rows * shards,
// WG_SIZE); shard s = columns [s * shard_cols, min(cols, (s + 1) *
// shard_cols)), never empty. Each shard writes its k best (z, column) pairs
// to cand_z/cand_i[g * TOPK + j] (empty slots: column INT_MAX) and one pair
// to stats[2g], stats[2g + 1]; *_merge launch one item per row (global =
// round_up(rows, WG_SIZE)) and offer the shards' candidates, in shard order
// (ties still go to the lower column), to one list. Candidates and stats are
// fresh contiguous buffers (float/int[rows * shards * TOPK], float[2 * rows *
// shards]).
//
// Views: the input row r starts at x + x_offset + r*x_row_stride (p for
// topk), columns contiguous, any alignment (unaligned float16 loads, scalar
// tail). Outputs values[r*k + j], indices[r*k + j], j < k, are contiguous.
//
// Build options (-D), all given by the host:
//   TOPK           k, 1 <= k <= 256; the host guarantees k <= cols  (required)
//   DTYPE          storage of x / p and of values (lib/dtype.h): 0 float,
//                  1 half, 2 bfloat16; indices are int            default 0
// Launch / tuning parameters (defaults: best measured on PoCL 3.1 pthread,
// 2-core AVX-512; retune per device):
//   ROWS_PER_ITEM  rows per work-item (1..8 measured equal)      default 4
//   WG_SIZE        local size (reqd_work_group_size)             default 1
//   CHUNK          float16 vectors per chunk (1, 2, 4 or 8): one max tree
//                  and one threshold test per chunk              default 8
//   FK_VLOAD, FK_NO_FORCE_INLINE: see lib/common.h               default 0
//
// Order: descending z, ties to the lower column index (deterministic).
// Selection: one work-item reads its rows once, 16 columns per vector, in
// chunks of CHUNK vectors, keeping a private list of the best k (z, column)
// pairs (one float16 + int16 for k <= 16, arrays above), with an admission
// threshold thr that only grows: the chunk's lane-wise max cm is compared
// with thr in ONE vector compare, and almost every chunk is rejected there.
// A hit chunk offers only its lanes whose cm passed, scalar, to the list.
// The first chunk's lane maxima give a starting bound t0 (k <= 16; those
// 512 bytes are read again, from L1, by the main loop). Selection costs
// ~k*ln(n/k) insertions per row: negligible for long rows, ~30% of the time
// at k = 8, n = 4096.
#ifndef TK_LIST_H
#define TK_LIST_H
#include "lib/common.h"
#include "lib/dtype.h"
#include "lib/online.h"

// z = scale*x rounds the same everywhere (no contraction into other ops)
#pragma OPENCL FP_CONTRACT OFF

#ifndef TOPK
#error "the top-k kernels need -DTOPK=k (1 <= k <= 256)"
#endif
#if TOPK < 1 || TOPK > 256
#error "TOPK must be in [1, 256]"
#endif
#ifndef ROWS_PER_ITEM
#define ROWS_PER_ITEM 4
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif
#ifndef CHUNK
#define CHUNK 8
#endif

// ---------------------------------------------------------------------------
// The private top-k list: the best pairs (z, column) seen so far, in the
// output order (descending z, ties to the lower column). The order is a
// total order on pairs, so offers may come in any column order (a chunk is
// offered lane by lane). Empty slots hold the sentinel (-inf, INT_MAX),
// which every real pair beats.
// Admission of (z, c): z >= t0 and (z, c) beats the last slot, where t0 is a
// lower bound of the row's k-th largest z (the k-th largest of k+ distinct
// elements, or -inf): every output element passes and at least k elements
// do, so the list fills with the right ones; -inf z may enter, NaN never.
// thr is the vector pre-filter: a lane with z < thr cannot enter (t0 while
// filling, the last value once full; full: z == thr cannot enter either,
// the columns of later chunks being higher than the list's).
// TOPK <= 16: the list is one float16 + one int16 (lanes >= TOPK unused),
// and an insertion is ~12 branch-free vector ops; else private arrays and
// scalar insertion.
// ---------------------------------------------------------------------------
// (z, c) before (v, i) in the output order
#define TK_BEATS(z, c, v, i) ((z) > (v) || ((z) == (v) && (c) < (i)))
#define TK_VLIST (TOPK <= 16)

typedef struct {
#if TK_VLIST
    float16 tv;
    int16 ti;
#else
    float tv[TOPK];
    int ti[TOPK];
#endif
    float lv;         // the last slot: value, column
    int li;
    int full;
    float t0;         // admission bound
    float thr;        // t0 while filling, lv once full
} tk_list;

FK_INLINE void tk_list_init(tk_list *l, float t0)
{
#if TK_VLIST
    l->tv = (float16)(-INFINITY);
    l->ti = (int16)INT_MAX;
#else
    for (int j = 0; j < TOPK; ++j) {
        l->tv[j] = -INFINITY;
        l->ti[j] = INT_MAX;
    }
#endif
    l->lv = -INFINITY;
    l->li = INT_MAX;
    l->full = 0;
    l->t0 = (t0 == t0) ? t0 : -INFINITY;   // a NaN row: any bound is fine
    l->thr = l->t0;
}

FK_INLINE void tk_offer(tk_list *l, float z, int c)
{
    if (!(z >= l->t0) || !TK_BEATS(z, c, l->lv, l->li)) return;
#if TK_VLIST
    // b: the slots the new pair beats, a suffix p..15 of the sorted list;
    // slot p gets the pair, slots p+1.. the old p..
    const float16 zv = (float16)z;
    const int16 cv = (int16)c;
    const int16 b = (zv > l->tv) | ((zv == l->tv) & (cv < l->ti));
    const uint16 sh = (uint16)(16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    const int16 bp = shuffle2(b, (int16)0, sh);
    const float16 sv = shuffle2(l->tv, zv, sh);
    const int16 si = shuffle2(l->ti, cv, sh);
    l->tv = b ? (bp ? sv : zv) : l->tv;
    l->ti = b ? (bp ? si : cv) : l->ti;
    float av[16];
    int ai[16];
    vstore16(l->tv, 0, av);
    vstore16(l->ti, 0, ai);
    l->lv = av[TOPK - 1];
    l->li = ai[TOPK - 1];
#else
    int p = TOPK - 1;
    while (p > 0 && TK_BEATS(z, c, l->tv[p - 1], l->ti[p - 1])) {
        l->tv[p] = l->tv[p - 1];
        l->ti[p] = l->ti[p - 1];
        --p;
    }
    l->tv[p] = z;
    l->ti[p] = c;
    l->lv = l->tv[TOPK - 1];
    l->li = l->ti[TOPK - 1];
#endif
    l->full = l->li != INT_MAX;
    l->thr = l->full ? l->lv : l->t0;
}

// output slot j (j < TOPK)
FK_INLINE float tk_value(const tk_list *l, int j)
{
#if TK_VLIST
    float a[16];
    vstore16(l->tv, 0, a);
    return a[j];
#else
    return l->tv[j];
#endif
}
FK_INLINE int tk_index(const tk_list *l, int j)
{
#if TK_VLIST
    int a[16];
    vstore16(l->ti, 0, a);
    return a[j];
#else
    return l->ti[j];
#endif
}

// lanes of a comparison mask as the bits of an int (or-tree)
FK_INLINE int tk_bits16(int16 m)
{
    const int16 b = m & (int16)(0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200,
                                0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000);
    const int8 a = FK_LO8(b) | FK_HI8(b);
    const int4 a4 = FK_LO4(a) | FK_HI4(a);
    const int2 a2 = FK_LO2(a4) | FK_HI2(a4);
    return a2.x | a2.y;
}

// Offer the elements of nvec vectors z[] (columns c + 16*k + lane) whose
// lane's max cm can pass thr: only those lanes are scanned, scalar.
FK_INLINE void tk_offer_vecs(tk_list *l, const float16 *z, float16 cm, int c, int nvec)
{
    // filling: z >= t0 may enter; full: z == thr cannot (the chunk's
    // columns are all higher than the list's)
    int bits = tk_bits16(l->full ? cm > (float16)l->thr : cm >= (float16)l->thr);
    if (!bits) return;
    float zb[16 * CHUNK];
    for (int k = 0; k < nvec; ++k) vstore16(z[k], k, zb);
    do {
        const int lane = 31 - clz(bits & -bits);
        bits &= bits - 1;
        for (int k = 0; k < nvec; ++k) {
            const float v = zb[16 * k + lane];
            if (v >= l->thr) tk_offer(l, v, c + 16 * k + lane);
        }
    } while (bits);
}

// t0 for a row: the k-th largest of the lane maxima cm of its first vectors
// (k <= 16 distinct elements); -inf when k > 16
FK_INLINE float tk_bound(float16 cm)
{
#if TOPK <= 16
    float a[16], b[TOPK];
    vstore16(cm, 0, a);
    int nb = 0;
    for (int i = 0; i < 16; ++i) {
        const float v = a[i];
        int p;
        if (nb < TOPK) p = nb++;
        else if (v > b[TOPK - 1]) p = TOPK - 1;
        else continue;
        while (p > 0 && b[p - 1] < v) { b[p] = b[p - 1]; --p; }
        b[p] = v;
    }
    return b[TOPK - 1];
#else
    (void)cm;
    return -INFINITY;
#endif
}

// lane-wise tree max of CHUNK vectors (a NaN may be dropped: harmless, it
// reaches the result through the exp sum or the NaN flag)
FK_INLINE float16 tk_chunk_max(const float16 *z)
{
#if CHUNK == 1
    return z[0];
#elif CHUNK == 2
    return fk_max16(z[0], z[1]);
#elif CHUNK == 4
    return fk_max16(fk_max16(z[0], z[1]), fk_max16(z[2], z[3]));
#else
    return fk_max16(fk_max16(fk_max16(z[0], z[1]), fk_max16(z[2], z[3])),
                    fk_max16(fk_max16(z[4], z[5]), fk_max16(z[6], z[7])));
#endif
}

// t0 of a row: from the lane maxima of its first chunk (or vector)
#define TK_ROW_BOUND(LOADZ)                                                    \
    float t0 = -INFINITY;                                                      \
    if (TOPK <= 16 && nv > 0) {                                                \
        float16 zz[CHUNK];                                                     \
        const int nb = nc > 0 ? CHUNK : 1;                                     \
        for (int k = 0; k < nb; ++k) zz[k] = LOADZ(16 * k);                    \
        float16 cm0 = zz[0];                                                   \
        for (int k = 1; k < nb; ++k) cm0 = fk_max16(cm0, zz[k]);               \
        t0 = tk_bound(cm0);                                                    \
    }

// shard g's list to the candidate buffers (empty slots: column INT_MAX)
FK_INLINE void tk_store_candidates(__global float *cand_z, __global int *cand_i, size_t g,
                                   const tk_list *l)
{
    for (int j = 0; j < TOPK; ++j) {
        cand_z[g * TOPK + j] = tk_value(l, j);
        cand_i[g * TOPK + j] = tk_index(l, j);
    }
}
// the list of a row from its shards' candidates (shards g0 .. g0 + shards - 1)
FK_INLINE void tk_merge_candidates(tk_list *l, __global const float *cand_z,
                                   __global const int *cand_i, size_t g0, int shards)
{
    tk_list_init(l, -INFINITY);
    for (size_t i = g0 * TOPK; i < (g0 + (size_t)shards) * TOPK; ++i) {
        if (cand_i[i] != INT_MAX) tk_offer(l, cand_z[i], cand_i[i]);
    }
}

// A plain top-k row's outputs from its list: NaN, -1 for a row holding NaN
FK_INLINE void tk_write_plain(__global fk_store_t *vr, __global int *ir, const tk_list *l, int bad)
{
    for (int j = 0; j < TOPK; ++j) {
        FK_SSTORE1(bad ? NAN : tk_value(l, j), vr + j);
        ir[j] = bad ? -1 : tk_index(l, j);
    }
}

// A row's outputs from its list and (M, D): NaN D (a NaN or +inf z) -> NaN,
// -1; D = 0 (all -inf) -> 0
FK_INLINE void tk_write_softmax(__global fk_store_t *vr, __global int *ir, const tk_list *l,
                                float M, float D)
{
    if (isnan(D)) {
        for (int j = 0; j < TOPK; ++j) {
            FK_SSTORE1(NAN, vr + j);
            ir[j] = -1;
        }
    } else {
        const float ms = fk_safe_max(M);
        const float inv = (D == 0.0f) ? 0.0f : 1.0f / D;
        for (int j = 0; j < TOPK; ++j) {
            FK_SSTORE1(fk_exp(tk_value(l, j) - ms) * inv, vr + j);
            ir[j] = tk_index(l, j);
        }
    }
}

#endif // TK_LIST_H
