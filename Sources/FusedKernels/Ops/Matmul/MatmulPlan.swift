/// A matmul on an OpenCL device: the preset's tiles and one launch, a work-group per
/// MWG × NWG tile of C and batch (3-D grid: n tiles × m tiles × batch).
struct MatmulPlan: KernelPlan, Equatable {
    let parameters: MatmulParameters
    let launches: [KernelLaunch]

    init(m: Int, n: Int, batch: Int, dtype: DType, outputDType: DType, parameters p: MatmulParameters) {
        parameters = p
        let spec = KernelSpec(file: MatmulKernels.matmul, entry: "matmul", defines: p.defines.merging([
            "DTYPE": dtype.kernelCode, "OUT_DTYPE": outputDType.kernelCode,
        ]) { $1 })
        let (groupsN, groupsM) = ((n + p.nwg - 1) / p.nwg, (m + p.mwg - 1) / p.mwg)
        launches = [KernelLaunch(spec: spec, grid: Grid(global: [groupsN * p.ndimc, groupsM * p.mdimc, batch],
                                                        local: [p.ndimc, p.mdimc, 1]))]
    }

    init(_ call: MatmulCall, outputDType: DType, parameters: MatmulParameters) {
        self.init(m: call.m, n: call.n, batch: call.batch, dtype: call.a.tensor.dtype, outputDType: outputDType,
                  parameters: parameters)
    }
}
