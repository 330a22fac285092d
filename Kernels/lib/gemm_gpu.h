// gemm_gpu.h — the GPU half of lib/gemm.h (GEMM_WG > 1: MDIMC x NDIMC
// cooperating work-items, tiles in __local memory). Included by gemm.h only.
// Built the way CLBlast's xgemm is (compile-time tile shapes, vector global
// loads, a register tile fed by vector __local reads, a register prefetch of
// the next k-block), around this library's API: any operand strides, the
// block-skip mask, gemm_tile for attention and cut cross-entropy.
//
// Extra parameter: VWM, the width of the A vectors an item reads from
// __local (1, 2, 4 or 8; VWM | MWI; default the largest of 4, 2, 1 that
// divides MWI). Global loads are 4 elements wide (GEMM_GW): 4 | MWG, NWG, KWG.
//
// Work-item (tx, ty) = (get_local_id(0), get_local_id(1)), lid = ty*NDIMC +
// tx; a warp / wavefront is 32 or 64 consecutive lids. It owns rows
// q*MDIMC + ty (q < MWI) and VWN-wide column groups u*NDIMC + tx (u <
// NWI/VWN) of the group's tile, all in registers: res[q*GEMM_LDR + u].
//
// __local layouts (KWG*MWG and KWG*NWG floats, as the callers size at, bt;
// no padding: the bank spread comes from an XOR swizzle of 4-float vectors
// by the k-group g = p / 4, uniform within a group of 4 k-steps):
//   A element (i, p), i = q*MDIMC + ty: vector f = (q/VWM)*MDIMC + ty, lane
//     l = q % VWM, at  at[p*MWG + VWM*(f ^ SA(g)) + l]
//   B element (p, j): vector f = j/VWN, lane l = j % VWN, at
//     bt[p*NWG + VWN*(f ^ SB(g)) + l]
//   SA(g) = SB(g) = 2*(g & 3), masked to the vector count (0 when that is
//   not a power of two).
// An item's k-step p reads MWI/VWM A vectors (f = h*MDIMC + ty) and NWI/VWN
// B vectors (f = u*NDIMC + tx) and does MWI*NWI FMAs; a loop over the
// KWG/4 k-groups, the 4 steps of a group unrolled.
//
// Global -> registers -> __local (per k-block of KWG): the A block (MWG x KWG)
// and the B block (KWG x NWG) are cut into 4-element vectors along the
// operand's contiguous direction; vector v = lid + GEMM_WG*t (slot t):
//   mode Y (k contiguous: A row-major, B transposed): row / column slot
//     w = v / (KWG/4), y = 4*(v % (KWG/4)), elements (x, y..y+3), x = w on
//     B and a permutation of w on A (gemm_slot_x);
//   mode X (m / n contiguous: A transposed, B row-major): B: x = 4*(v %
//     (NWG/4)), y = v / (NWG/4); A: 8 vectors per k (gemm_slot_x/_y);
//     elements (x..x+3, y);
//   x: the row of A / column of B, y: the k index in the block. Other strides
//   use mode Y with scalar loads. A full, 16-byte aligned block loads each
//   vector with one instruction; edge blocks (rows / columns / k past the
//   matrix) and unaligned operands take the bounds-checked scalar path,
//   zero-filling. The next block's loads are issued before the current
//   block's products (register prefetch): per k-block, barrier, registers ->
//   __local, barrier, loads of the next block, KWG k-steps.
// Conflict and coalescing arithmetic for the presets: Benchmarks/NOTES.md.
#ifndef FK_GEMM_GPU_H
#define FK_GEMM_GPU_H
#if GEMM_WG == 1
#error "gemm_gpu.h: the cooperative half (include lib/gemm.h)"
#endif

#ifdef VWM
#define GEMM_VWM VWM
#elif MWI % 4 == 0
#define GEMM_VWM 4
#elif MWI % 2 == 0
#define GEMM_VWM 2
#else
#define GEMM_VWM 1
#endif
#if (GEMM_VWM != 1 && GEMM_VWM != 2 && GEMM_VWM != 4 && GEMM_VWM != 8) || MWI % GEMM_VWM
#error "gemm_gpu.h: VWM must be 1, 2, 4 or 8 and divide MWI"
#endif
#define GEMM_GW 4
#if MWG % GEMM_GW || NWG % GEMM_GW || KWG % GEMM_GW
#error "gemm_gpu.h: need 4 | MWG, NWG, KWG (4-wide global loads)"
#endif

#if GEMM_VWM == 1
typedef float gemm_va_t;
#elif GEMM_VWM == 2
typedef float2 gemm_va_t;
#elif GEMM_VWM == 4
typedef float4 gemm_va_t;
#else
typedef float8 gemm_va_t;
#endif

// swizzles of k-group g = p / 4 (see the layouts above)
#define GEMM_POW2(x) (((x) & ((x) - 1)) == 0)
#if GEMM_POW2(MWG / GEMM_VWM)
#define GEMM_SA(g) ((2 * (g)) & 6 & (MWG / GEMM_VWM - 1))
#else
#define GEMM_SA(g) 0
#endif
#if GEMM_POW2(NWG / VWN)
#define GEMM_SB(g) ((2 * (g)) & 6 & (NWG / VWN - 1))
#else
#define GEMM_SB(g) 0
#endif

// the __local index of A (i, p) and of B (p, j)
FK_INLINE int gemm_at_idx(int i, int p)
{
    const int q = i / MDIMC, ty = i % MDIMC;
    return p * MWG + GEMM_VWM * (((q / GEMM_VWM) * MDIMC + ty) ^ GEMM_SA(p >> 2)) + q % GEMM_VWM;
}

FK_INLINE int gemm_bt_idx(int p, int j)
{
    return p * NWG + VWN * ((j / VWN) ^ GEMM_SB(p >> 2)) + j % VWN;
}

// ---------------------------------------------------------------------------
// gemm_load_tile (cooperative, generic): dst[r*ld + c] = src[r*s_r + c*s_c]
// for r < rv, c < cv, 0 for the rest of the R x C tile; element e = lid +
// GEMM_WG*t, adjacent items on the source's contiguous direction; the caller
// brackets the call with GEMM_BARRIER(). Not used by gemm_kloop (which has
// its own staging); kept for attention's accumulator products.
// ---------------------------------------------------------------------------
FK_INLINE void gemm_load_tile(GEMM_TS float *dst, int ld, int R, int C,
                              __global const fk_store_t *src, long s_r, long s_c,
                              int rv, int cv)
{
    const int lid = (int)(get_local_id(1) * get_local_size(0) + get_local_id(0));
    const int total = R * C;
    if (s_r == 1 && s_c != 1) {
        for (int e = lid; e < total; e += GEMM_WG) {
            const int r = e % R, c = e / R;
            dst[r * ld + c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
        }
    } else {
        for (int e = lid; e < total; e += GEMM_WG) {
            const int r = e / C, c = e % C;
            dst[r * ld + c] = gemm_ld1(src, s_r, s_c, r, c, rv, cv);
        }
    }
}

// ---------------------------------------------------------------------------
// Global loads of one k-block into registers (4-element vectors)
// ---------------------------------------------------------------------------
#define GEMM_A_VECS (MWG * KWG / GEMM_GW)
#define GEMM_B_VECS (NWG * KWG / GEMM_GW)
#define GEMM_A_SLOTS ((GEMM_A_VECS + GEMM_WG - 1) / GEMM_WG)
#define GEMM_B_SLOTS ((GEMM_B_VECS + GEMM_WG - 1) / GEMM_WG)

// 4 contiguous elements at p (16-byte aligned for fp32) as float
#if DTYPE == 0
#define GEMM_GLOAD4(p) (*(__global const float4 *)(p))
#elif DTYPE == 1
#define GEMM_GLOAD4(p) vload_half4(0, (p))
#else
#define GEMM_GLOAD4(p) as_float4(convert_uint4(*(__global const ushort4 *)(p)) << 16)
#endif

// whether the blocks of an operand may use the vector loads: contiguous
// direction unit-strided, the other stride and the base 4-element aligned
FK_INLINE int gemm_gvec_ok(__global const fk_store_t *src, long s_x, long s_y, int xmode)
{
    const long other = xmode ? s_y : s_x;
    const int unit = xmode ? s_x == 1 : s_y == 1;
    return unit && other % GEMM_GW == 0 && ((ulong)src % (GEMM_GW * sizeof(fk_store_t))) == 0;
}

// slot vector v of an X x KWG block: its first element (x, y). On A
// (rowperm), mode Y spreads a warp's rows over lanes l = q % VWM of the A
// vectors: row slot w -> l = w % VWM, ty = (w / VWM) % MDIMC, h = w /
// (VWM*MDIMC), row (h*VWM + l)*MDIMC + ty (so the 4 k-chunks of a row hit 4
// banks apart); mode X (when 8 | X/4) gives 8 consecutive vectors (128
// bytes) per k, a warp's 4 k in 4 different k-groups (swizzles):
// x = 4*(v % 8 + 8*(v / (8*KWG))), k yl = (v / 8) % KWG -> (yl % 4)*(KWG/4)
// + yl / 4.
FK_INLINE int gemm_slot_x(int v, int X, int xmode, int rowperm)
{
    if (xmode && rowperm && (X / GEMM_GW) % 8 == 0)
        return (v % 8 + 8 * (v / (8 * KWG))) * GEMM_GW;
    if (xmode) return (v % (X / GEMM_GW)) * GEMM_GW;
    const int w = v / (KWG / GEMM_GW);
    if (!rowperm) return w;
    const int l = w % GEMM_VWM, ty = (w / GEMM_VWM) % MDIMC, h = w / (GEMM_VWM * MDIMC);
    return (h * GEMM_VWM + l) * MDIMC + ty;
}

FK_INLINE int gemm_slot_y(int v, int X, int xmode, int rowperm)
{
    if (xmode && rowperm && (X / GEMM_GW) % 8 == 0) {
        const int yl = (v / 8) % KWG;
        return (yl % 4) * (KWG / 4) + yl / 4;
    }
    return xmode ? v / (X / GEMM_GW) : (v % (KWG / GEMM_GW)) * GEMM_GW;
}

// r[t] = the block's elements src[x*s_x + y*s_y] of slot t (see the modes),
// 0 outside x < xv, y < nk; vec: the whole block is inside and aligned
FK_INLINE void gemm_gload(float4 *r, int nslots, int nvecs, int X, int rowperm, __global const fk_store_t *src,
                          long s_x, long s_y, int xmode, int vec, int xv, int nk, int lid)
{
    const long s_e = xmode ? s_x : s_y;
    #pragma unroll
    for (int t = 0; t < nslots; ++t) {
        const int v = lid + GEMM_WG * t;
        if (nvecs % GEMM_WG && v >= nvecs) break;
        const int x = gemm_slot_x(v, X, xmode, rowperm), y = gemm_slot_y(v, X, xmode, rowperm);
        __global const fk_store_t *p = src + x * s_x + y * s_y;
        if (vec) {
            r[t] = GEMM_GLOAD4(p);
        } else {
            const int xe = xmode ? xv - x : (x < xv ? GEMM_GW : 0), ye = xmode ? (y < nk ? GEMM_GW : 0) : nk - y;
            const int ne = min(xe, ye);   // elements of the vector inside the matrix
            float l[GEMM_GW];
            #pragma unroll
            for (int e = 0; e < GEMM_GW; ++e) l[e] = e < ne ? FK_SLOAD1(p + e * s_e) : 0.0f;
            r[t] = (float4)(l[0], l[1], l[2], l[3]);
        }
    }
}

// registers -> the A tile (scalar stores: the 4 elements of a vector land in
// 4 places; mode Y: 4 consecutive k, MWG apart)
FK_INLINE void gemm_stage_a(GEMM_TS float *at, const float4 *r, int xmode, int lid)
{
    #pragma unroll
    for (int t = 0; t < GEMM_A_SLOTS; ++t) {
        const int v = lid + GEMM_WG * t;
        if (GEMM_A_VECS % GEMM_WG && v >= GEMM_A_VECS) break;
        const int x = gemm_slot_x(v, MWG, xmode, 1), y = gemm_slot_y(v, MWG, xmode, 1);
        const float l[GEMM_GW] = { r[t].s0, r[t].s1, r[t].s2, r[t].s3 };
        if (xmode) {
            #pragma unroll
            for (int e = 0; e < GEMM_GW; ++e) at[gemm_at_idx(x + e, y)] = l[e];
        } else {
            GEMM_TS float *d = at + gemm_at_idx(x, y);
            #pragma unroll
            for (int e = 0; e < GEMM_GW; ++e) d[e * MWG] = l[e];
        }
    }
}

// registers -> the B tile (mode X: one 16-byte store when a vector stays in
// one VWN group; mode Y: 4 consecutive k, NWG apart)
FK_INLINE void gemm_stage_b(GEMM_TS float *bt, const float4 *r, int xmode, int lid)
{
    #pragma unroll
    for (int t = 0; t < GEMM_B_SLOTS; ++t) {
        const int v = lid + GEMM_WG * t;
        if (GEMM_B_VECS % GEMM_WG && v >= GEMM_B_VECS) break;
        const int x = gemm_slot_x(v, NWG, xmode, 0), y = gemm_slot_y(v, NWG, xmode, 0);
        const float l[GEMM_GW] = { r[t].s0, r[t].s1, r[t].s2, r[t].s3 };
        if (xmode) {
#if VWN >= GEMM_GW
            *(GEMM_TS float4 *)(bt + gemm_bt_idx(y, x)) = r[t];
#else
            #pragma unroll
            for (int e = 0; e < GEMM_GW; ++e) bt[gemm_bt_idx(y, x + e)] = l[e];
#endif
        } else {
            GEMM_TS float *d = bt + gemm_bt_idx(y, x);
            #pragma unroll
            for (int e = 0; e < GEMM_GW; ++e) d[e * NWG] = l[e];
        }
    }
}

// the KWG k-steps of one staged block: res += A·B, vectors from __local; a
// loop over the k-groups of 4 (one swizzle each), the 4 steps unrolled (a
// full unroll lets AMD's scheduler hoist the reads of all KWG steps: 224+
// VGPRs at 8 x 8 per item)
FK_INLINE void gemm_block(gemm_vec_t *res, GEMM_TS const float *at, GEMM_TS const float *bt, int tx, int ty)
{
    #pragma unroll 1
    for (int g = 0; g < KWG / 4; ++g) {
        GEMM_TS const float *ag = at + 4 * g * MWG, *bg = bt + 4 * g * NWG;
        const int sa = GEMM_SA(g), sb = GEMM_SB(g);
        #pragma unroll
        for (int e = 0; e < 4; ++e) {
            gemm_va_t av[MWI / GEMM_VWM];
            #pragma unroll
            for (int h = 0; h < MWI / GEMM_VWM; ++h)
                av[h] = *(GEMM_TS const gemm_va_t *)(ag + e * MWG + GEMM_VWM * ((h * MDIMC + ty) ^ sa));
            gemm_vec_t bv[NWI / VWN];
            #pragma unroll
            for (int u = 0; u < NWI / VWN; ++u)
                bv[u] = *(GEMM_TS const gemm_vec_t *)(bg + e * NWG + VWN * ((u * NDIMC + tx) ^ sb));
            #pragma unroll
            for (int q = 0; q < MWI; ++q) {
                const float a = ((const float *)av)[q];
                #pragma unroll
                for (int u = 0; u < NWI / VWN; ++u)
                    res[q * GEMM_LDR + u] = fma((gemm_vec_t)a, bv[u], res[q * GEMM_LDR + u]);
            }
        }
    }
}

// the elements of k-block kb that count: 0 for a dead block (the skip mask)
FK_INLINE int gemm_block_k(const gemm_skip_t *skip, int mv, int kb, int k)
{
    return gemm_live(skip, mv, kb, k) ? clamp(k - kb * KWG, 0, KWG) : 0;
}

// ---------------------------------------------------------------------------
// gemm_kloop (see gemm.h): every item holds its whole MWI x NWI tile in
// registers (res[q*GEMM_LDR + u], all set); k-blocks the skip mask marks as
// zeros are neither loaded nor multiplied. Every item of the group calls it.
// ---------------------------------------------------------------------------
FK_INLINE void gemm_kloop(gemm_vec_t *res, GEMM_TS float *at, GEMM_TS float *bt,
                          __global const fk_store_t *a, long a_rs, long a_cs,
                          __global const fk_store_t *b, long b_rs, long b_cs,
                          int mv, int nv, int k, const gemm_skip_t *skip)
{
    const int tx = (int)get_local_id(0), ty = (int)get_local_id(1);
    // lid, tied to this call's nv (>= 1): the slot addresses derived from it
    // stay inside the call instead of being hoisted out of a caller's loop
    // (live across its epilogue)
    const int lid = ty * NDIMC + tx + (nv >> 31);
    const int nkb = max(1, (k + KWG - 1) / KWG);
    // the live k-blocks lie in [kb0, kb1]
    int kb0 = 0, kb1 = nkb - 1;
    while (kb0 < nkb - 1 && !gemm_live(skip, mv, kb0, k)) ++kb0;
    while (kb1 > kb0 && !gemm_live(skip, mv, kb1, k)) --kb1;
    // A(i, p) = a[i*a_rs + p*a_cs]: x = i; B(p, j) = b[p*b_rs + j*b_cs]: x = j
    const int a_x = a_rs == 1 && a_cs != 1, b_x = b_cs == 1 && b_rs != 1;
    const int a_vec = mv == MWG && gemm_gvec_ok(a, a_rs, a_cs, a_x);
    const int b_vec = nv == NWG && gemm_gvec_ok(b, b_cs, b_rs, b_x);
    float4 ra[GEMM_A_SLOTS], rb[GEMM_B_SLOTS];
    #pragma unroll
    for (int t = 0; t < GEMM_ITEM_N; ++t) res[t] = (gemm_vec_t)0.0f;
    int nk = gemm_block_k(skip, mv, kb0, k);
    gemm_gload(ra, GEMM_A_SLOTS, GEMM_A_VECS, MWG, 1, a + kb0 * KWG * a_cs, a_rs, a_cs, a_x, a_vec && nk == KWG, mv, nk, lid);
    gemm_gload(rb, GEMM_B_SLOTS, GEMM_B_VECS, NWG, 0, b + kb0 * KWG * b_rs, b_cs, b_rs, b_x, b_vec && nk == KWG, nv, nk, lid);
    for (int kb = kb0; kb <= kb1;) {
        int nx = kb + 1;   // the next live block (kb1 is live unless it is kb0)
        while (nx < kb1 && !gemm_live(skip, mv, nx, k)) ++nx;
        GEMM_BARRIER();   // the previous block's tiles (or the caller's) are consumed
        gemm_stage_a(at, ra, a_x, lid);
        gemm_stage_b(bt, rb, b_x, lid);
        GEMM_BARRIER();
        if (nx <= kb1) {
            nk = clamp(k - nx * KWG, 0, KWG);
            gemm_gload(ra, GEMM_A_SLOTS, GEMM_A_VECS, MWG, 1, a + nx * KWG * a_cs, a_rs, a_cs, a_x,
                       a_vec && nk == KWG, mv, nk, lid);
            gemm_gload(rb, GEMM_B_SLOTS, GEMM_B_VECS, NWG, 0, b + nx * KWG * b_rs, b_cs, b_rs, b_x,
                       b_vec && nk == KWG, nv, nk, lid);
        }
        gemm_block(res, at, bt, tx, ty);
        kb = nx;
    }
}

// ---------------------------------------------------------------------------
// gemm_tile (see gemm.h): the item's results to their interleaved places of
// z (row q*MDIMC + ty, vector u*NDIMC + tx), then a barrier.
// ---------------------------------------------------------------------------
FK_INLINE void gemm_tile(GEMM_TS float *z, GEMM_TS float *at, GEMM_TS float *bt,
                         __global const fk_store_t *a, long a_rs, long a_cs,
                         __global const fk_store_t *b, long b_rs, long b_cs, int mv, int nv, int k)
{
    const gemm_skip_t none = { 0, 0, 0, 0, 0, 0 };
    gemm_vec_t res[GEMM_ITEM_N];
    gemm_kloop(res, at, bt, a, a_rs, a_cs, b, b_rs, b_cs, mv, nv, k, &none);
    const int ty = (int)get_local_id(1), tx = (int)get_local_id(0);
    GEMM_TS gemm_vec_t *zv = (GEMM_TS gemm_vec_t *)z;
    #pragma unroll
    for (int q = 0; q < MWI; ++q) {
        #pragma unroll
        for (int u = 0; u < GEMM_LDR; ++u) zv[(q * MDIMC + ty) * (NWG / VWN) + u * NDIMC + tx] = res[q * GEMM_LDR + u];
    }
    GEMM_BARRIER();
}

#endif // FK_GEMM_GPU_H
