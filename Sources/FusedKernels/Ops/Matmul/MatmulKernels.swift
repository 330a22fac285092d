/// Matmul's kernel file (`Kernels/matmul/`), named once so that a search finds every user.
enum MatmulKernels {
    /// Batched, strided C = α·A·B + β·C over the GEMM core (`lib/gemm.h`).
    static let matmul = "matmul/matmul.cl"
}
