// common.h — helpers shared by every kernel in Kernels/ (OpenCL C 1.2).
//
// * FK_INLINE, FK_LOAD16/FK_STORE16 (unaligned float16), FK_STORE16_ALIGNED
//   (streaming store), FK_HEAD, FK_LO8/FK_HI8...: portability / codegen
//   helpers, each with the reason next to it.
// * fk_exp / fk_exp4 / fk_exp8 / fk_exp16: hand-written vector exp, full
//   range (15 vector ops, rel. err <= 2e-7). Exp throughput, not memory, is
//   the first wall of a softmax on a CPU device.
// * fk_expneg / fk_expneg16: c*e^x for x <= 0 (11 ops), the softmax hot loop.
// * fk_max*: a max that maps to one vmaxps and never turns NaN into a number
//   in the first operand (fmax/max may drop NaN, see below).
// * fk_shard: the (row, column range) of a work-item in a sharded launch.
// Storage types (-DDTYPE) live in lib/dtype.h, the online normalizer and the
// Kahan step in lib/online.h.
#ifndef FK_COMMON_H
#define FK_COMMON_H

// Force inlining: PoCL's LLVM left plain `inline` helpers as calls.
// -DFK_NO_FORCE_INLINE=1 gives plain static inline helpers: needed with
// -cl-opt-disable under Oclgrind, whose interpreter lacks the
// llvm.experimental.noalias.scope.decl that forced inlining inserts.
#if defined(FK_NO_FORCE_INLINE) && FK_NO_FORCE_INLINE
#define FK_INLINE static inline
#else
#define FK_INLINE static inline __attribute__((always_inline))
#endif

// Unaligned float16 load/store. vload16/vstore16 are the portable spelling,
// but PoCL 3.1 lowers them to four 16-byte pieces plus inserts/extracts
// (extra shuffle-port work in the exp-bound loops); with clang, a vector
// typedef with 4-byte alignment gives one plain unaligned 64-byte access.
// -DFK_VLOAD=1 forces vload16/vstore16.
// The same for 16 ushorts (bf16 storage): vstore16 of a ushort16 became 16
// extract + 2-byte store pairs (bf16 softmax ran at half the fp32 speed).
#if defined(__clang__) && !(defined(FK_VLOAD) && FK_VLOAD)
typedef float fk_float16u __attribute__((ext_vector_type(16), aligned(4)));
typedef ushort fk_ushort16u __attribute__((ext_vector_type(16), aligned(2)));
#define FK_LOAD16(p) (*(__global const fk_float16u *)(p))
#define FK_STORE16(v, p) (*(__global fk_float16u *)(p) = (v))
#define FK_LOAD16_U16(p) (*(__global const fk_ushort16u *)(p))
#define FK_STORE16_U16(v, p) (*(__global fk_ushort16u *)(p) = (v))
#else
#define FK_LOAD16(p) vload16(0, (p))
#define FK_STORE16(v, p) vstore16((v), 0, (p))
#define FK_LOAD16_U16(p) vload16(0, (p))
#define FK_STORE16_U16(v, p) vstore16((v), 0, (p))
#endif

// Stores to a 64-byte aligned address. With FK_NT_STORE (default 1, clang
// only) they are non-temporal: they bypass the caches and skip the
// read-for-ownership of the destination line, ~2x the copy bandwidth on the
// PoCL CPU device (~58 vs ~25 GB/s here). Set FK_NT_STORE=0 when the output
// is re-read while it would still be in cache (small tensors). clang takes the
// store's alignment from the value's type, hence the float16 temporary.
// FK_NT_FENCE(): states that the weakly-ordered streaming stores must be
// visible when the kernel ends. On PoCL/x86 mem_fence emits no instruction;
// the runtime's own LOCK-prefixed atomics at work-group completion drain the
// write-combining buffers (as an sfence would), so results are visible.
// FK_STORE16_ALIGNED_U16: 16 ushorts (2-byte storage types) to a 32-byte
// aligned address, streaming too.
// FK_HEAD(p): elements before the first 64-byte aligned address >= p.
#ifndef FK_NT_STORE
#define FK_NT_STORE 1
#endif
#if FK_NT_STORE && defined(__clang__)
#define FK_STORE16_ALIGNED(v, p) do { float16 fk_v_ = (v);                    \
    __builtin_nontemporal_store(fk_v_, (__global float16 *)(p)); } while (0)
#define FK_STORE16_ALIGNED_U16(v, p) do { ushort16 fk_v_ = (v);               \
    __builtin_nontemporal_store(fk_v_, (__global ushort16 *)(p)); } while (0)
#define FK_NT_FENCE() mem_fence(CLK_GLOBAL_MEM_FENCE)
#else
#define FK_STORE16_ALIGNED(v, p) (*(__global float16 *)(p) = (v))
#define FK_STORE16_ALIGNED_U16(v, p) (*(__global ushort16 *)(p) = (v))
#define FK_NT_FENCE() ((void)0)
#endif
#define FK_HEAD(p) ((((size_t)64 - ((size_t)(p) & 63)) & 63) / sizeof(*(p)))

// FK_PREFETCH_CHUNK(p): software prefetch of the CHUNK float16 vectors
// PREFETCH elements after p, for a kernel's first read of a row: with the
// hardware prefetchers alone that read stream was latency-bound (+30 % for
// the block softmax, +45 % for the online one). __builtin_prefetch
// (llvm.prefetch) only where the target is x86 (PoCL's CPU devices):
// Oclgrind's interpreter has no llvm.prefetch, GPUs no need.
#ifndef PREFETCH
#define PREFETCH 1024
#endif
#if PREFETCH > 0 && defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#define FK_PREFETCH_CHUNK(p) do {                                             \
    _Pragma("unroll") for (int k_ = 0; k_ < CHUNK; ++k_)                      \
        __builtin_prefetch((p) + 16 * k_ + PREFETCH, 0, 3);                   \
    } while (0)
#else
#define FK_PREFETCH_CHUNK(p) ((void)0)
#endif

// Rows split into column shards, one work-item each: item g covers row
// g / shards (returned), columns [a, b) = [s * shard_cols, min(n, (s + 1) *
// shard_cols)) with s = g % shards.
FK_INLINE size_t fk_shard(size_t g, int shards, int shard_cols, size_t n, size_t *a, size_t *b)
{
    *a = (g % (size_t)shards) * (size_t)shard_cols;
    *b = min(n, *a + (size_t)shard_cols);
    return g / (size_t)shards;
}

// ---------------------------------------------------------------------------
// exp(x)
//
// exp(x) = 2^n * e^r, n = round(x*log2(e)), r = x - n*ln2 in [-ln2/2, ln2/2].
// * n is rounded to nearest by adding a magic 1.5*2^23 (in one fma): the
//   sum's low mantissa bits then hold n in two's complement, so bits << 23 is
//   n already placed in the exponent field (the magic's own bits shift out).
//   No float->int conversion or round instruction.
// * r uses the Cody-Waite split of ln2 (C1 has 9 significant bits, so n*C1 is
//   exact even without a fused multiply-add).
// * e^r = 1 + r*q(r): degree-5 minimax polynomial for relative error (Remez,
//   constant term pinned to 1), 1.5e-7 evaluated in float; whole exp <= 2e-7.
// Degree 5 instead of Cephes' 7-operation form because exp throughput, not
// memory, is what limits a softmax on a CPU device.
// ---------------------------------------------------------------------------
#define FK_LOG2E      1.44269504088896341f
#define FK_EXP_C1     0.693359375f          /* ln2 high part (exact product) */
#define FK_EXP_C2    -2.12194440e-4f        /* ln2 - C1 */
#define FK_EXP_MAGIC  12582912.0f           /* 1.5 * 2^23 */
#define FK_EXP_MAGICB 12583039.0f           /* 1.5 * 2^23 + 127 (biased n) */
#define FK_EXP_LO    -87.33654f             /* ~ ln(FLT_MIN): below -> 0 */
#define FK_EXP_HI     88.72283f             /* ~ ln(FLT_MAX): above -> inf */
#define FK_EXP_P1     0.9999997019767761f
#define FK_EXP_P2     0.4999914765357971f
#define FK_EXP_P3     0.1666763871908188f
#define FK_EXP_P4     0.04189816117286682f
#define FK_EXP_P5     0.008290272206068039f

// fk_exp*: full range. 2^n is applied by adding n<<23 to the bits of e^r
// (valid up to x = ln(FLT_MAX); e^r's exponent is 126 or 127). Outside
// [FK_EXP_LO, FK_EXP_HI] the lanes hold garbage that two selects overwrite:
//   x < FK_EXP_LO (incl. -inf)      -> 0 (would be denormal: flushed, never
//                                       denormal garbage)
//   !(x <= FK_EXP_HI) (+inf, NaN)   -> x + inf (= +inf, or NaN stays NaN)
// Comparisons with NaN are false, so NaN reaches the second select; no
// fmin/fmax clamps (they would silently turn NaN into a number).
#define FK_DEFINE_EXP(NAME, FT, UT)                                            \
FK_INLINE FT NAME(FT x)                                                           \
{                                                                              \
    FT k = fma(x, (FT)FK_LOG2E, (FT)FK_EXP_MAGIC);                             \
    FT n = k - (FT)FK_EXP_MAGIC;                                               \
    FT r = fma(n, (FT)(-FK_EXP_C1), x);                                        \
    r = fma(n, (FT)(-FK_EXP_C2), r);                                           \
    FT p = fma((FT)FK_EXP_P5, r, (FT)FK_EXP_P4);                               \
    p = fma(p, r, (FT)FK_EXP_P3);                                              \
    p = fma(p, r, (FT)FK_EXP_P2);                                              \
    p = fma(p, r, (FT)FK_EXP_P1);                                              \
    p = fma(p, r, (FT)1.0f);                                                   \
    FT y = as_##FT(as_##UT(p) + (as_##UT(k) << 23));                           \
    y = (x < (FT)FK_EXP_LO) ? (FT)0.0f : y;                                    \
    y = (x <= (FT)FK_EXP_HI) ? y : x + (FT)INFINITY;                           \
    return y;                                                                  \
}

FK_DEFINE_EXP(fk_exp,   float,   uint)
FK_DEFINE_EXP(fk_exp4,  float4,  uint4)
FK_DEFINE_EXP(fk_exp8,  float8,  uint8)
FK_DEFINE_EXP(fk_exp16, float16, uint16)

// fk_expneg*(x, c): c * e^x for the softmax hot loops, where x = z - max is
// <= 0, -inf, or NaN. 11 vector ops instead of fk_exp's 15:
// * the magic carries the exponent bias, so 2^n is one shift and is applied
//   with a multiply (NaN * anything = NaN keeps NaN a NaN);
// * the only range check left is x < FK_EXP_LO -> 0*c (masked -inf entries
//   give exactly 0; a NaN c, from a NaN row, still gives NaN);
// * r = x - n*ln2 in ONE fma with ln2 rounded to float: the error
//   |n|*|ln2 - FK_LN2F| <= |n|*1.9e-9 adds <= 6e-8 relative for x >= -20
//   and <= 2.4e-7 down to -87 (terms < 1e-9 of the row's largest, where it
//   cannot matter in a sum or a probability);
// * c (e.g. 1/sum) is folded into the polynomial coefficients: free per
//   element.
// Valid for x <= 88.0 (NOT up to ln(FLT_MAX): 2^128 does not fit the biased
// shift); +inf gives NaN.
#define FK_LN2F 0.693147182464599609375f
#define FK_DEFINE_EXPNEG(NAME, FT, UT)                                         \
FK_INLINE FT NAME(FT x, float c)                                               \
{                                                                              \
    FT k = fma(x, (FT)FK_LOG2E, (FT)FK_EXP_MAGICB);                            \
    FT n = k - (FT)FK_EXP_MAGICB;                                              \
    FT r = fma(n, (FT)(-FK_LN2F), x);                                          \
    FT p = fma((FT)(c * FK_EXP_P5), r, (FT)(c * FK_EXP_P4));                   \
    p = fma(p, r, (FT)(c * FK_EXP_P3));                                        \
    p = fma(p, r, (FT)(c * FK_EXP_P2));                                        \
    p = fma(p, r, (FT)(c * FK_EXP_P1));                                        \
    p = fma(p, r, (FT)c);                                                      \
    FT y = p * as_##FT(as_##UT(k) << 23);                                      \
    return (x < (FT)FK_EXP_LO) ? (FT)(0.0f * c) : y;                           \
}

FK_DEFINE_EXPNEG(fk_expneg,   float,   uint)
FK_DEFINE_EXPNEG(fk_expneg16, float16, uint16)

// Vector halves. Not the .lo/.hi swizzles: Oclgrind 21.10's --uninitialized
// plugin mis-tracks the shufflevector of .hi (false "uninitialized" reports
// at -O0, a segfault at -O2); shuffle() is the same operation and PoCL
// compiles it to the same instructions.
#define FK_LO8(v) shuffle((v), (uint8)(0, 1, 2, 3, 4, 5, 6, 7))
#define FK_HI8(v) shuffle((v), (uint8)(8, 9, 10, 11, 12, 13, 14, 15))
#define FK_LO4(v) shuffle((v), (uint4)(0, 1, 2, 3))
#define FK_HI4(v) shuffle((v), (uint4)(4, 5, 6, 7))
#define FK_LO2(v) shuffle((v), (uint2)(0, 1))
#define FK_HI2(v) shuffle((v), (uint2)(2, 3))

// any lane of a comparison mask set? (an or-tree; PoCL's any() extracts and
// tests the 16 lanes one by one)
FK_INLINE int fk_any16(int16 v)
{
    int8 a = FK_LO8(v) | FK_HI8(v);
    int4 b = FK_LO4(a) | FK_HI4(a);
    int2 c = FK_LO2(b) | FK_HI2(b);
    return (c.x | c.y) < 0;
}

// max(a, b) as (b > a) ? b : a — one vmaxps on x86. If b is NaN the result
// is a (NaN never enters a running max); NaN is propagated by the sums
// instead (e^(NaN - m) = NaN poisons d).
FK_INLINE float   fk_max(float a, float b)       { return (b > a) ? b : a; }
FK_INLINE float16 fk_max16(float16 a, float16 b) { return (b > a) ? b : a; }

// horizontal max (NaN lanes never win) / sum of a float16
FK_INLINE float fk_hmax16(float16 v)
{
    const float8 l8 = FK_LO8(v), h8 = FK_HI8(v);
    const float8 a = (h8 > l8) ? h8 : l8;
    const float4 l4 = FK_LO4(a), h4 = FK_HI4(a);
    const float4 b = (h4 > l4) ? h4 : l4;
    const float2 l2 = FK_LO2(b), h2 = FK_HI2(b);
    const float2 c = (h2 > l2) ? h2 : l2;
    return fk_max(c.x, c.y);
}
FK_INLINE float fk_hsum16(float16 v)
{
    const float8 a = FK_LO8(v) + FK_HI8(v);
    const float4 b = FK_LO4(a) + FK_HI4(a);
    const float2 c = FK_LO2(b) + FK_HI2(b);
    return c.x + c.y;
}


#endif // FK_COMMON_H
