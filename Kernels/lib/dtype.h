// dtype.h — tensor storage types (-DDTYPE, -DOUT_DTYPE), on top of common.h.
#ifndef FK_DTYPE_H
#define FK_DTYPE_H
#include "lib/common.h"

// ---------------------------------------------------------------------------
// Tensor storage type, -DDTYPE: 0 float, 1 half (IEEE fp16), 2 bfloat16 (the
// top 16 bits of a float, kept as ushort). Arithmetic is always float; only
// loads and stores change. fk_store_t is the element type of tensor buffers.
//   FK_SLOAD16(p) / FK_SLOAD1(p): 16 / 1 elements at p as float
//   FK_SSTORE16(v, p) / FK_SSTORE1(v, p): round to nearest even and store
//   FK_SSTORE16_ALIGNED(v, p): the same to a 64-byte aligned p (after
//     FK_HEAD(p) elements), as a streaming store where FK_NT_STORE allows:
//     no read for ownership of the output lines
// A second storage type for outputs, -DOUT_DTYPE (same codes, default
// DTYPE), for kernels whose result is stored wider or narrower than their
// operands (a matmul accumulating fp16 products into fp32, a conversion):
// fk_out_t, FK_OLOAD16 / FK_OLOAD1, FK_OSTORE16 / FK_OSTORE1, same rules.
// ---------------------------------------------------------------------------
#ifndef DTYPE
#define DTYPE 0
#endif
#ifndef OUT_DTYPE
#define OUT_DTYPE DTYPE
#endif
#if DTYPE < 0 || DTYPE > 2 || OUT_DTYPE < 0 || OUT_DTYPE > 2
#error "dtype.h: DTYPE and OUT_DTYPE must be 0 (float), 1 (half) or 2 (bfloat16)"
#endif

// the fp16 bits of v, rounded to nearest even: there are no half values
// without cl_khr_fp16, so through a private buffer (kept in registers)
FK_INLINE ushort16 fk_half_bits16(float16 v)
{
    ushort16 b;
    vstore_half16_rte(v, 0, (__private half *)&b);
    return b;
}

// bfloat16: round to nearest even on the bits; a NaN keeps its sign and
// stays quiet (the rounded bits are the high halves of the 32-bit lanes,
// gathered by one shuffle: as a truncation, clang fused it with a streaming
// store into a plain vpmovdw store)
FK_INLINE ushort16 fk_to_bf16_16(float16 v)
{
    const uint16 b = as_uint16(v);
    const uint16 r = isnan(v) ? (b | (uint16)0x400000) : b + (uint16)0x7FFF + ((b >> 16) & (uint16)1);
    return shuffle2(as_ushort16(FK_LO8(r)), as_ushort16(FK_HI8(r)),
                    (ushort16)(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
}
FK_INLINE ushort fk_to_bf16(float v)
{
    const uint b = as_uint(v);
    return (ushort)(isnan(v) ? ((b >> 16) | 0x40u) : ((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16));
}

// One row per storage code: FK_<op>_<code>. DTYPE and OUT_DTYPE pick theirs
// by pasting the code, so each conversion is written once.
#define FK_TYPE_0 float
#define FK_LD16_0(p) FK_LOAD16(p)
#define FK_LD1_0(p) (*(p))
#define FK_ST16_0(v, p) FK_STORE16((v), (p))
#define FK_ST1_0(v, p) (*(p) = (v))
#define FK_ST16A_0(v, p) FK_STORE16_ALIGNED((v), (p))

#define FK_TYPE_1 half
#define FK_LD16_1(p) vload_half16(0, (p))
#define FK_LD1_1(p) vload_half(0, (p))
#define FK_ST16_1(v, p) vstore_half16_rte((v), 0, (p))
#define FK_ST1_1(v, p) vstore_half_rte((v), 0, (p))
#define FK_ST16A_1(v, p) FK_STORE16_ALIGNED_U16(fk_half_bits16(v), (p))

#define FK_TYPE_2 ushort
#define FK_LD16_2(p) as_float16(convert_uint16(FK_LOAD16_U16(p)) << 16)
#define FK_LD1_2(p) as_float((uint)(*(p)) << 16)
#define FK_ST16_2(v, p) FK_STORE16_U16(fk_to_bf16_16(v), (p))
#define FK_ST1_2(v, p) (*(p) = fk_to_bf16(v))
#define FK_ST16A_2(v, p) FK_STORE16_ALIGNED_U16(fk_to_bf16_16(v), (p))

#define FK_DT_(op, code) FK_##op##_##code
#define FK_DT(op, code) FK_DT_(op, code)

typedef FK_DT(TYPE, DTYPE) fk_store_t;
#define FK_SLOAD16(p) FK_DT(LD16, DTYPE)(p)
#define FK_SLOAD1(p) FK_DT(LD1, DTYPE)(p)
#define FK_SSTORE16(v, p) FK_DT(ST16, DTYPE)(v, p)
#define FK_SSTORE1(v, p) FK_DT(ST1, DTYPE)(v, p)
#define FK_SSTORE16_ALIGNED(v, p) FK_DT(ST16A, DTYPE)(v, p)

typedef FK_DT(TYPE, OUT_DTYPE) fk_out_t;
#define FK_OLOAD16(p) FK_DT(LD16, OUT_DTYPE)(p)
#define FK_OLOAD1(p) FK_DT(LD1, OUT_DTYPE)(p)
#define FK_OSTORE16(v, p) FK_DT(ST16, OUT_DTYPE)(v, p)
#define FK_OSTORE1(v, p) FK_DT(ST1, OUT_DTYPE)(v, p)

#endif // FK_DTYPE_H
