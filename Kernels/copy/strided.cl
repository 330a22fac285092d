// copy/strided.cl — copy_strided: a strided view of up to 4 dimensions
// gathered into a contiguous tensor (a bit copy; OpenCL C 1.2).
//   dst[dst_offset + ((i0*d1 + i1)*d2 + i2)*d3 + i3] = src[src_offset + i0*s0 +
//   i1*s1 + i2*s2 + i3*s3]   for i0 < d0, i1 < d1, i2 < d2, i3 < d3
// Sizes d* >= 1 (a lower rank is padded with leading 1s), strides s* >= 0 in
// elements (0: broadcast); dst is contiguous, row-major [d0, d1, d2, d3].
//
// LAUNCH RULE (1-D NDRange): one work-item per dst row (i0, i1, i2):
//   items  = d0 * d1 * d2
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   item g copies row (i0, i1, i2) = (g / (d1*d2), g / d2 % d1, g % d2), its
//   d3 elements; items past `items` return. Any sizes (a row is a loop).
//
// Build options (-D):
//   ELEM_BYTES   element size: 1 uchar, 2 ushort, 4 uint; the bits are
//                copied, so any dtype of that size (f32, i32, f16, bf16,
//                bool masks as bytes)                            default 4
//   WG_SIZE      local size (reqd_work_group_size)               default 1
#ifndef ELEM_BYTES
#define ELEM_BYTES 4
#endif
#if ELEM_BYTES == 1
#define ELEM uchar
#elif ELEM_BYTES == 2
#define ELEM ushort
#elif ELEM_BYTES == 4
#define ELEM uint
#else
#error "ELEM_BYTES must be 1, 2 or 4"
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void copy_strided(__global const ELEM *src, __global ELEM *dst, long src_offset, long dst_offset,
    int d0, int d1, int d2, int d3, long s0, long s1, long s2, long s3)
{
    const size_t g = get_global_id(0);
    const size_t n12 = (size_t)d1 * (size_t)d2;
    if (g >= (size_t)d0 * n12) return;
    const size_t i0 = g / n12, i1 = g / (size_t)d2 % (size_t)d1, i2 = g % (size_t)d2;
    __global const ELEM *s = src + src_offset + (long)i0 * s0 + (long)i1 * s1 + (long)i2 * s2;
    __global ELEM *d = dst + dst_offset + g * (size_t)d3;
    if (s3 == 1) {
        for (int i = 0; i < d3; ++i) d[i] = s[i];          // contiguous row
    } else {
        for (int i = 0; i < d3; ++i) d[i] = s[(long)i * s3];
    }
}
