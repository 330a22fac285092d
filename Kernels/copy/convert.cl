// copy/convert.cl — convert: a strided view of up to 4 dimensions converted
// from one floating storage type to another (OpenCL C 1.2).
//   dst[dst_offset + ((i0*d1 + i1)*d2 + i2)*dst_row_stride + i3] =
//     src[src_offset + i0*s0 + i1*s1 + i2*s2 + i3*s3]   (i* < d*)
// rounded to nearest even when narrowing (a NaN stays a NaN, ±inf stay,
// values past the target's range become ±inf); widening is exact. Sizes d*
// >= 1 (a lower rank is padded with leading 1s), strides s* >= 0 in elements
// (0: broadcast); dst rows are contiguous, dst_row_stride apart.
//
// LAUNCH RULE (1-D NDRange): one work-item per dst row (i0, i1, i2), as in
// copy/strided.cl:
//   items  = d0 * d1 * d2
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   item g converts row (g / (d1*d2), g / d2 % d1, g % d2); items past
//   `items` return.
//
// Build options (-D):
//   DTYPE      storage of src (lib/dtype.h): 0 float, 1 half, 2 bfloat16
//                                                                default 0
//   OUT_DTYPE  storage of dst, same codes                   default DTYPE
//   WG_SIZE    local size (reqd_work_group_size)                 default 1
#include "lib/common.h"
#include "lib/dtype.h"
#ifndef WG_SIZE
#define WG_SIZE 1
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void convert(__global const fk_store_t *src, __global fk_out_t *dst, long src_offset, long dst_offset,
    long dst_row_stride, int d0, int d1, int d2, int d3, long s0, long s1, long s2, long s3)
{
    const size_t g = get_global_id(0);
    const size_t n12 = (size_t)d1 * (size_t)d2;
    if (g >= (size_t)d0 * n12) return;
    const size_t i0 = g / n12, i1 = g / (size_t)d2 % (size_t)d1, i2 = g % (size_t)d2;
    __global const fk_store_t *s = src + src_offset + (long)i0 * s0 + (long)i1 * s1 + (long)i2 * s2;
    __global fk_out_t *d = dst + dst_offset + (long)g * dst_row_stride;
    int i = 0;
    if (s3 == 1) {
        for (; i + 16 <= d3; i += 16) FK_OSTORE16(FK_SLOAD16(s + i), d + i);   // contiguous row
    }
    for (; i < d3; ++i) FK_OSTORE1(FK_SLOAD1(s + (long)i * s3), d + i);
}
