// topk.cl — fused softmax + top-k, and plain top-k, over the last axis
// (OpenCL C 1.2).
//
// LAUNCH RULE (softmax_topk and topk, 1-D NDRange; softmax_topk_shards and
// softmax_topk_merge, for rows too few for the compute units, have their own,
// above topk):
//   items  = ceil(rows / ROWS_PER_ITEM)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i owns rows [i*ROWS_PER_ITEM, min(rows, (i+1)*ROWS_PER_ITEM))
//   (items past `rows` return). Work-items never cooperate: no barriers, no
//   __local memory.
//
// Build options (-D), all given by the host:
//   TOPK           k, 1 <= k <= 256; the host guarantees k <= cols  (required)
//   DTYPE          storage of x / p and of values (common.h): 0 float,
//                  1 half, 2 bfloat16; indices are int            default 0
// Launch / tuning parameters (defaults: best measured on PoCL 3.1 pthread,
// 2-core AVX-512; retune per device):
//   ROWS_PER_ITEM  rows per work-item (1..8 measured equal)      default 4
//   WG_SIZE        local size (reqd_work_group_size)             default 1
//   CHUNK          float16 vectors per chunk (1, 2, 4 or 8): one max tree
//                  and one threshold test per chunk              default 8
//   TK_MARGIN      lag allowed to the per-lane reference max      default 32
//   TK_EXP_DEG     4 or 5: exp polynomial of the normalizer sum  default 4
//   FK_VLOAD, FK_NO_FORCE_INLINE: see common.h                   default 0
//
// Semantics. Output of row r: values[r*k + j], indices[r*k + j], j < k,
// ordered by descending z, ties to the lower column index (deterministic).
//   softmax_topk: z = scale*x; values are the softmax probabilities
//     e^(z - M) / D of the k largest z, with (M, D) the row's online-
//     normalizer statistics (Milakov & Gimelshein) computed in the same,
//     single read of the row.
//   topk: orders p itself (z = p) and outputs p's values.
// Special rows (both kernels): a row containing NaN -> values NaN, indices
// -1 (softmax_topk: also a row with +inf, since inf - inf = NaN; topk: +inf
// is an ordinary largest value). softmax_topk: a row of all -inf -> values 0,
// indices 0..k-1 (topk: values -inf, indices 0..k-1, by the ordering).
//
// Algorithm: one work-item reads its rows once, 16 columns per vector, in
// chunks of CHUNK vectors. Per row it keeps
// * per-lane online (m, d) accumulators (Kahan-compensated d) with a lazy
//   reference max (moved only when a lane max passes it by TK_MARGIN),
//   merged at the end of the row (softmax_topk only);
// * a private list of the best k (z, column) pairs (one float16 + int16 for
//   k <= 16, arrays above), with an admission threshold thr that only
//   grows: the chunk's lane-wise max cm is compared with min(m + margin,
//   thr) in ONE vector compare, and almost every chunk is rejected there.
//   A hit chunk offers only its lanes whose cm passed, scalar, to the list.
//   The first chunk's lane maxima give a starting bound t0 (k <= 16; those
//   512 bytes are read again, from L1, by the main loop).
// Cost per float16 vector on the fast path: load (x scale), one max, the
// 9-op exp of the normalizer sum, one add. Selection costs ~k*ln(n/k)
// insertions per row: negligible for long rows, ~30% of the time at
// k = 8, n = 4096.
// Row starts need not be aligned (unaligned float16 loads, scalar tail).
#include "common.h"

// z = scale*x rounds the same everywhere (no contraction into other ops)
#pragma OPENCL FP_CONTRACT OFF

#ifndef TOPK
#error "topk.cl needs -DTOPK=k (1 <= k <= 256)"
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

// ---------------------------------------------------------------------------
// softmax_topk
// ---------------------------------------------------------------------------
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

FK_INLINE void tk_acc_add(tk_acc *s, float16 e)    // Kahan step
{
    float16 t = e - s->dc, u = s->d + t;
    s->dc = (u - s->d) - t;
    s->d = u;
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
        tk_acc_add(&s, e[0]);
    }
    for (; c < nv; c += 16) {
        float16 z[1];
        z[0] = TK_LOADX(c);
        if (!l.full || fk_any16(z[0] > s.gate)) tk_slow(&s, &l, z, z[0], a + (int)c, 1);
        tk_acc_add(&s, tk_exps16(z[0] - s.ms));
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

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk(__global const fk_store_t *x, __global fk_store_t *values,
    __global int *indices, int rows, int cols, float scale)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    for (int row = r0; row < r1; ++row) {
        tk_list l;
        float M, D;
        tk_softmax_pass(x + (size_t)row * n, n, 0, scale, &l, &M, &D);
        tk_write_softmax(values + (size_t)row * TOPK, indices + (size_t)row * TOPK, &l, M, D);
    }
}

// ---------------------------------------------------------------------------
// Rows split into column shards, for rows too few for the compute units (a
// batch of one over a vocabulary): one work-item per (row, shard),
// g = row * shards + shard, shard s = columns [s * shard_cols,
// min(cols, (s + 1) * shard_cols)), never empty.
//   softmax_topk_shards  the fused pass over its shard: its k best (z,
//                        column) pairs (empty slots: column INT_MAX) and
//                        its (m, d)
//   softmax_topk_merge   one item per row: (m, d) merged in shard order,
//                        the shards' candidates offered to one list (the
//                        same order, so ties still go to the lower column)
//   topk_shards, topk_merge  the same for plain top-k; a shard's "stats"
//                        pair is (1 if it holds a NaN else 0, 0)
// Candidates: cand_z/cand_i[g * TOPK + j]; stats: float[2 * rows * shards].
// ---------------------------------------------------------------------------
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

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_shards(__global const fk_store_t *x, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    int shard_cols, int shards, float scale)
{
    const size_t g = get_global_id(0);
    if (g >= (size_t)rows * (size_t)shards) return;
    const size_t n = (size_t)cols;
    size_t a, b;
    const size_t row = fk_shard(g, shards, shard_cols, n, &a, &b);
    tk_list l;
    float M, D;
    tk_softmax_pass(x + row * n + a, b - a, (int)a, scale, &l, &M, &D);
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

// ---------------------------------------------------------------------------
// topk: the same selection on p itself; a NaN anywhere in the row is caught
// by a per-lane flag (the max tree and the compares drop NaN).
// ---------------------------------------------------------------------------
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

FK_INLINE void tk_write_plain(__global fk_store_t *vr, __global int *ir, const tk_list *l, int bad)
{
    for (int j = 0; j < TOPK; ++j) {
        FK_SSTORE1(bad ? NAN : tk_value(l, j), vr + j);
        ir[j] = bad ? -1 : tk_index(l, j);
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk(__global const fk_store_t *p, __global fk_store_t *values,
    __global int *indices, int rows, int cols)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    for (int row = r0; row < r1; ++row) {
        tk_list l;
        const int bad = tk_select_pass(p + (size_t)row * n, n, 0, &l);
        tk_write_plain(values + (size_t)row * TOPK, indices + (size_t)row * TOPK, &l, bad);
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_shards(__global const fk_store_t *p, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    int shard_cols, int shards)
{
    const size_t g = get_global_id(0);
    if (g >= (size_t)rows * (size_t)shards) return;
    const size_t n = (size_t)cols;
    size_t a, b;
    const size_t row = fk_shard(g, shards, shard_cols, n, &a, &b);
    tk_list l;
    const int bad = tk_select_pass(p + row * n + a, b - a, (int)a, &l);
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
