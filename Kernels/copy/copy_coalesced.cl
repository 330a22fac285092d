// copy/copy_coalesced.cl — the roofline copy shaped for a GPU: dst[i] = src[i]
// for i in [0, n) elements, a bit copy; bytes moved = 2 * n * ELEM_BYTES.
// copy.cl is the CPU shape.
//
// LAUNCH RULE (1-D NDRange):
//   local  = WG_SIZE (256 unless the device allows fewer)
//   global = groups * WG_SIZE, groups = min(ceil(n * ELEM_BYTES / 16 / WG_SIZE),
//            8 * compute units), at least 1 group
//   Grid-stride loop over 16-byte vectors: in each step adjacent work-items
//   move adjacent 16-byte pieces, so a work-group's accesses coalesce into
//   whole memory transactions; then the last n % (16 / ELEM_BYTES) elements,
//   one per work-item. src and dst are buffer starts (aligned to 16 bytes).
//
// Build options (-D):
//   ELEM_BYTES   element size: 1 uchar, 2 ushort, 4 uint (any dtype of that
//                size: the bits are copied)                      default 4
//   WG_SIZE      local size (reqd_work_group_size)               default 256
//
// Plain loads and stores: no prefetch or non-temporal store, which a GPU's
// memory system does not need. Elements, not whole floats: a 2-byte dtype's
// odd count never reads the buffer's padding.

#ifndef ELEM_BYTES
#define ELEM_BYTES 4
#endif
#if ELEM_BYTES == 1
#define ELEM uchar
#define ELEM_VEC uchar16
#elif ELEM_BYTES == 2
#define ELEM ushort
#define ELEM_VEC ushort8
#elif ELEM_BYTES == 4
#define ELEM uint
#define ELEM_VEC uint4
#else
#error "ELEM_BYTES must be 1, 2 or 4"
#endif
#define VEC_LEN (16 / ELEM_BYTES)
#ifndef WG_SIZE
#define WG_SIZE 256
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void copy_coalesced(__global const ELEM *src, __global ELEM *dst, long n)
{
    const size_t stride = get_global_size(0);
    const size_t vectors = (size_t)n / VEC_LEN;
    __global const ELEM_VEC *src_vec = (__global const ELEM_VEC *)src;
    __global ELEM_VEC *dst_vec = (__global ELEM_VEC *)dst;
    for (size_t i = get_global_id(0); i < vectors; i += stride) dst_vec[i] = src_vec[i];
    for (size_t i = vectors * VEC_LEN + get_global_id(0); i < (size_t)n; i += stride) dst[i] = src[i];
}
