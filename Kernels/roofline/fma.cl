// fma.cl — the FMA-peak kernel of the compute roofline (OpenCL C 1.2): each
// work-item runs FMA_CHAINS independent float16 chains x = fma(x, a, b) for
// `iterations` steps, so the multiply-add units, not latency or memory, bound it.
//
// LAUNCH RULE (1-D NDRange): any global size, local size WG_SIZE; FLOPs =
//   global * iterations * FMA_CHAINS * 16 * 2.
// Build options (-D):
//   FMA_CHAINS  independent chains per item (≥ FMA latency × issue rate: 4
//               cycles × 2 per cycle on x86 cores)                  default 12
//   WG_SIZE     local size (reqd_work_group_size)                  default 1
// a is close to 1 (0.999…) so that the chains converge to b / (1 − a) and never
// overflow or turn denormal; each item's sum is stored so nothing is optimised away.
#ifndef FMA_CHAINS
#define FMA_CHAINS 12
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void fma_peak(__global float *out, int iterations, float a, float b)
{
    float16 x[FMA_CHAINS];
    #pragma unroll
    for (int c = 0; c < FMA_CHAINS; ++c) x[c] = (float16)(get_global_id(0) + c);
    for (int i = 0; i < iterations; ++i) {
        #pragma unroll
        for (int c = 0; c < FMA_CHAINS; ++c) x[c] = fma(x[c], (float16)a, (float16)b);
    }
    float16 s = x[0];
    #pragma unroll
    for (int c = 1; c < FMA_CHAINS; ++c) s += x[c];
    out[get_global_id(0)] = s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7 + s.s8 + s.s9 + s.sa + s.sb
        + s.sc + s.sd + s.se + s.sf;
}

// An empty kernel: what one launch costs, end to end, with no work.
__kernel void empty_kernel(__global float *out)
{
    if (get_global_id(0) == 0x7fffffff) out[0] = 0.0f;
}
