// Toy kernels with known access patterns: the warp model's tests (test_warp_model.py)
// run each on Oclgrind with 64 items in one group (two warps) and check its exact numbers.

// Adjacent items, adjacent floats: one 128-byte line per warp, 100 % of its sectors used.
__kernel void coalesced(__global const float* x, __global float* y) {
    size_t i = get_global_id(0);
    y[i] = x[i];
}

// Items 32 floats apart: every lane its own 32-byte sector, 4 of 32 bytes used (12.5 %).
__kernel void uncoalesced(__global const float* x, __global float* y) {
    size_t i = get_global_id(0);
    y[i] = x[i * 32];
}

// float4 per item: 512 bytes per warp, every byte of 16 sectors used.
__kernel void vector4(__global const float4* x, __global float4* y) {
    size_t i = get_global_id(0);
    y[i] = x[i] * 2.0f;
}

// Items 32 words apart in __local: all 32 lanes in one bank, 32 ways.
__kernel void conflicting(__global float* y) {
    __local float t[64 * 32];
    size_t l = get_local_id(0);
    t[l * 32] = (float)l;
    barrier(CLK_LOCAL_MEM_FENCE);
    y[get_global_id(0)] = t[l * 32];
}

// The same with rows padded to 33 words: every lane its own bank, 1 way.
__kernel void padded(__global float* y) {
    __local float t[64 * 33];
    size_t l = get_local_id(0);
    t[l * 33] = (float)l;
    barrier(CLK_LOCAL_MEM_FENCE);
    y[get_global_id(0)] = t[l * 33];
}

// Every lane reads the same word: a broadcast, 1 way; one item in 64 writes.
__kernel void broadcast(__global float* y) {
    __local float t[1];
    if (get_local_id(0) == 0) t[0] = 1.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    y[get_global_id(0)] = t[0] * (float)get_local_id(0);
}

// Only the first warp works after the barrier: half of the items active there.
__kernel void half_active(__global float* y) {
    size_t l = get_local_id(0);
    float v = (float)l * 3.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (l < 32) v = exp(v * 0.001f);
    y[get_global_id(0)] = v;
}
