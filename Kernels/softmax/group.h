// softmax/group.h — the GPU preset's building blocks: a row (or a column
// shard of one) shared by the work-items of a segment of a work-group
// (OpenCL C 1.2). Used by group_rows.cl, group_shards.cl, group_backward.cl.
//
// Work split: a work-group of WG_SIZE items (a power of two) is cut into
// segments of row_items items (a power of two dividing WG_SIZE, a run-time
// argument: one program serves every row length). A row's columns [a, b)
// are cut into a scalar head (up to the first column whose x is aligned to
// four elements: 16 bytes for float, 8 for half and bfloat16), a body of
// 4-column vectors and a scalar tail (< 4 columns). Item t of a segment
// loads body vectors t, t + row_items, ... with one aligned 16- (8-) byte
// load each: a warp's 32 items read 512 (256) contiguous bytes, every
// 32-byte sector whole. Head and tail columns go to items t < 4, one each.
// Operands whose alignment differs from x's (y, masks, dy, dx) are read or
// written with vload4 / vstore4 (correct for any alignment; a compiler may
// split them): the aligned path (one wide access) is taken when they share
// x's (y's) alignment, the case of contiguous tensors.
// Each item keeps one running max m and four partial sums (one per vector
// lane) of e^(z - m); a new max rescales them (rare after the first
// columns, a uniform-per-item branch), any other vector costs four exps.
// The exp is native_exp2((z - m) * log2(e)): z - m <= 0 is exact, so e <= 1
// (the max's term is exactly 1). No Kahan step: each lane adds about
// cols / (4 * row_items) terms (256 at 262144 columns), and the segment's
// pairs then merge by a tree.
// The segment's items merge their pairs in __local memory by a fixed tree
// of SEG_RADIX-way levels (2 levels, 3 barriers for up to 256 items; was
// one level per halving): bit-identical reruns. Rows are read twice
// (statistics, then output), as by the CPU preset's online pass.
//
// Names: seg_ for a row segment (not an OpenCL subgroup: there are none in
// OpenCL C 1.2).
// Every item of a group reaches every barrier: items past the last row take
// part in the reductions with the empty pair and write nothing.
// Semantics (masks, NaN, +-inf, fully masked rows): softmax/row.h, whose z
// loads and output formulas these functions follow.
#ifndef SM_GROUP_H
#define SM_GROUP_H
#include "softmax/row.h"

#if WG_SIZE < 2 || (WG_SIZE & (WG_SIZE - 1)) != 0
#error "the group kernels need WG_SIZE a power of two >= 2"
#endif

// The empty pair: (-inf, 0), or (-inf, -1) for (m, R = d - 1) (row.h).
#define SEG_EMPTY_D (SM_LOG_R ? -1.0f : 0.0f)
// Entries merged per item and level of seg_reduce / seg_sum.
#define SEG_RADIX 16

// ---- 4-column loads and stores of the storage type ----
// bytes of 4 elements: the alignment of the aligned vector path
#define SEG_VBYTES (4 * (size_t)sizeof(fk_store_t))
// elements before the first SEG_VBYTES-aligned element at or after p
#define SEG_HEAD(p) (((SEG_VBYTES - ((size_t)(p) % SEG_VBYTES)) % SEG_VBYTES) / sizeof(fk_store_t))
#define SEG_ALIGNED(p) (((size_t)(p) % SEG_VBYTES) == 0)

// 4 elements at p as float; al: p is SEG_VBYTES-aligned (one wide load)
FK_INLINE float4 seg_ld4(__global const fk_store_t *p, int al)
{
#if DTYPE == 0
    return al ? *(__global const float4 *)p : vload4(0, p);
#elif DTYPE == 1
    // the bits in one 8-byte load, converted in registers (vload_half4 on
    // the global pointer loads 2 bytes at a time)
    const ushort4 u = al ? *(__global const ushort4 *)p : vload4(0, (__global const ushort *)p);
    return vload_half4(0, (__private const half *)&u);
#else
    const ushort4 u = al ? *(__global const ushort4 *)p : vload4(0, p);
    return as_float4(convert_uint4(u) << 16);
#endif
}

#if DTYPE == 2
FK_INLINE ushort4 seg_bf16_4(float4 v)   // fk_to_bf16 on 4 lanes
{
    const uint4 b = as_uint4(v);
    const uint4 r = isnan(v) ? ((b >> 16) | (uint4)0x40u) : ((b + (uint4)0x7FFFu + ((b >> 16) & (uint4)1u)) >> 16);
    return convert_ushort4(r);
}
#endif

// v rounded to the storage type at p (al as seg_ld4)
FK_INLINE void seg_st4(float4 v, __global fk_store_t *p, int al)
{
#if DTYPE == 0
    if (al) *(__global float4 *)p = v;
    else vstore4(v, 0, p);
#elif DTYPE == 1
    ushort4 u;
    vstore_half4_rte(v, 0, (__private half *)&u);
    if (al) *(__global ushort4 *)p = u;
    else vstore4(u, 0, (__global ushort *)p);
#else
    const ushort4 u = seg_bf16_4(v);
    if (al) *(__global ushort4 *)p = u;
    else vstore4(u, 0, p);
#endif
}

// z for the 4 columns at c (x at c aligned; the masks too when mal)
FK_INLINE float4 seg_z4(sm_row r, size_t c, float scale, int mal)
{
    float4 z = seg_ld4(r.x + c, 1) * scale;
    if (SM_USE_ADD(r.a)) z += mal ? *(__global const float4 *)(r.a + c) : vload4(0, r.a + c);
    if (SM_USE_BOOL(r.b)) {
        const uchar4 k = mal ? *(__global const uchar4 *)(r.b + c) : vload4(0, r.b + c);
        z = (convert_int4(k) == (int4)0) ? (float4)(-INFINITY) : z;
    }
    return z;
}

// the masks of row r share x's alignment at column v0 (an aligned x vector
// has aligned mask vectors; always true without masks)
FK_INLINE int seg_masks_aligned(sm_row r, size_t v0)
{
    int al = 1;
    if (SM_USE_ADD(r.a)) al &= ((size_t)(r.a + v0) % 16) == 0;
    if (SM_USE_BOOL(r.b)) al &= ((size_t)(r.b + v0) % 4) == 0;
    return al;
}

// e^x for x <= 0 (or -inf, NaN): one exp2 instruction on a GPU (lib/online.h)
#define seg_exp fk_fast_exp
#define seg_exp4 fk_fast_exp4

// The columns [a, b) of a row cut at x's alignment: head [a, v0), body
// [v0, v1) in vectors of 4 (v0 aligned), tail [v1, b).
typedef struct { size_t v0, v1; } seg_cut;
FK_INLINE seg_cut seg_cut_of(__global const fk_store_t *xr, size_t a, size_t b)
{
    seg_cut k;
    k.v0 = a + min(b - a, (size_t)SEG_HEAD(xr + a));
    k.v1 = k.v0 + ((b - k.v0) & ~(size_t)3);
    return k;
}

// ---- one item's (m, d): lib/online.h's fk_acc4 (one max, four lane sums;
// SM_LOG_R: (m, R)) ----
// This item's (m, d) over its columns of [a, b) of row r (k: the cut).
FK_INLINE void seg_item_stats(sm_row r, size_t a, size_t b, size_t t, size_t row_items, float scale,
                             float *m, float *d)
{
    const seg_cut k = seg_cut_of(r.x, a, b);
    fk_acc4 s;
    fk_acc4_init(&s, SM_LOG_R);
    // one loop per mask alignment (a flag inside the loop lets LLVM merge
    // the aligned and unaligned loads into the narrow one)
    if (seg_masks_aligned(r, k.v0))
        for (size_t c = k.v0 + 4 * t; c < k.v1; c += 4 * row_items) fk_acc4_push4(&s, seg_z4(r, c, scale, 1), SM_LOG_R);
    else
        for (size_t c = k.v0 + 4 * t; c < k.v1; c += 4 * row_items) fk_acc4_push4(&s, seg_z4(r, c, scale, 0), SM_LOG_R);
    for (size_t c = a + t; c < k.v0; c += row_items) fk_acc4_push1(&s, sm_z1(r, c, scale), SM_LOG_R);
    for (size_t c = k.v1 + t; c < b; c += row_items) fk_acc4_push1(&s, sm_z1(r, c, scale), SM_LOG_R);
    fk_acc4_pair(&s, m, d);
}

FK_INLINE void seg_merge(float *m, float *d, float m2, float d2)
{
#if SM_LOG_R
    fk_online_merge_r(m, d, m2, d2);
#else
    fk_online_merge(m, d, m2, d2);
#endif
}

// Merges the (m, d) of each segment's items: on return every item holds its
// segment's pair. lid: the item's local id; t = lid % row_items. Levels of
// SEG_RADIX: with s entries left, items t < w = ceil(s / SEG_RADIX) fold
// entries t, t + w, t + 2w, ... (< s) in that order into entry t (adjacent
// items read adjacent words: no bank conflicts; entry t is read at this
// level by item t only, so one barrier per level). The arrays must not be
// written again without a barrier.
FK_INLINE void seg_reduce(float *m, float *d, size_t lid, size_t t, size_t row_items,
                         __local float *lm, __local float *ld)
{
    const size_t base = lid - t;
    lm[lid] = *m;
    ld[lid] = *d;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = row_items; s > 1;) {
        const size_t w = (s + SEG_RADIX - 1) / SEG_RADIX;
        if (t < w) {
            float mm = lm[lid], dd = ld[lid];
            for (size_t q = t + w; q < s; q += w) seg_merge(&mm, &dd, lm[base + q], ld[base + q]);
            lm[lid] = mm;
            ld[lid] = dd;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        s = w;
    }
    *m = lm[base];
    *d = ld[base];
}

// Sums one float per item over each segment (the backward's row sums); every
// item gets its segment's sum. Same tree and rules as seg_reduce.
FK_INLINE float seg_sum(float v, size_t lid, size_t t, size_t row_items, __local float *ls)
{
    const size_t base = lid - t;
    ls[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = row_items; s > 1;) {
        const size_t w = (s + SEG_RADIX - 1) / SEG_RADIX;
        if (t < w) {
            float acc = ls[lid];
            for (size_t q = t + w; q < s; q += w) acc += ls[base + q];
            ls[lid] = acc;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        s = w;
    }
    return ls[base];
}

#if OUTPUT_MODE <= FK_OUTPUT_LOG_SOFTMAX
FK_INLINE float4 seg_p2_4(float4 z, sm_out o)
{
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    return seg_exp4(z - (float4)o.ms) * o.k;
#else
    return (z - (float4)o.ms) - (float4)o.k;
#endif
}

FK_INLINE float seg_p2_1(float z, sm_out o)
{
#if OUTPUT_MODE == FK_OUTPUT_SOFTMAX
    return seg_exp(z - o.ms) * o.k;
#else
    return (z - o.ms) - o.k;
#endif
}

// This item's columns of [a, b) of the output row yr (the cut of seg_item_stats).
FK_INLINE void seg_write(sm_row r, __global sm_out_t *yr, size_t a, size_t b, size_t t, size_t row_items,
                        float scale, sm_out o)
{
    const seg_cut k = seg_cut_of(r.x, a, b);
    const int yal = SEG_ALIGNED(yr + k.v0);
    if (seg_masks_aligned(r, k.v0))
        for (size_t c = k.v0 + 4 * t; c < k.v1; c += 4 * row_items)
            seg_st4(seg_p2_4(seg_z4(r, c, scale, 1), o), yr + c, yal);
    else
        for (size_t c = k.v0 + 4 * t; c < k.v1; c += 4 * row_items)
            seg_st4(seg_p2_4(seg_z4(r, c, scale, 0), o), yr + c, yal);
    for (size_t c = a + t; c < k.v0; c += row_items) FK_SSTORE1(seg_p2_1(sm_z1(r, c, scale), o), yr + c);
    for (size_t c = k.v1 + t; c < b; c += row_items) FK_SSTORE1(seg_p2_1(sm_z1(r, c, scale), o), yr + c);
}
#endif

// The (m, d) of a finished row as its OUTPUT_MODE 2/3 output.
FK_INLINE void seg_write_statistics(__global sm_out_t *yr, float M, float D)
{
#if OUTPUT_MODE == FK_OUTPUT_LSE
    FK_SSTORE1(M + sm_log_d(D), yr);
#elif OUTPUT_MODE == FK_OUTPUT_STATISTICS
    yr[0] = M;
    yr[1] = D;
#else
    (void)yr; (void)M; (void)D;
#endif
}

#endif // SM_GROUP_H
