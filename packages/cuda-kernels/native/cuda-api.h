/*
 * The few CUDA driver and cuBLAS entry points the engine uses, declared here rather than taken from cuda.h and
 * cublas_v2.h: the addon builds on any machine with a C compiler (no CUDA toolkit, no cuBLAS headers) and opens the
 * libraries with dlopen at run time, so its install never fails and a machine without a GPU can still load it and
 * say why it cannot run. Values and signatures are those of CUDA 12/13's headers (the stable ABI: the `_v2` names
 * are what cuda.h's macros map the plain names to since CUDA 3.2 and 4.0).
 */
#ifndef GQ_CUDA_API_H
#define GQ_CUDA_API_H

#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;

#define GQ_CUDA_SUCCESS 0
#define GQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define GQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76

typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;
#define GQ_CUBLAS_STATUS_SUCCESS 0
#define GQ_CUBLAS_OP_N 0
#define GQ_CUBLAS_OP_T 1
#define GQ_CUBLAS_DEFAULT_MATH 0
/* Float32 products in float32: no tensor-op shortcut, even where NVIDIA_TF32_OVERRIDE or a future default asks. */
#define GQ_CUBLAS_PEDANTIC_MATH 2
#define GQ_CUBLAS_TF32_TENSOR_OP_MATH 3

/* Every function the engine calls, by the symbol it is looked up under. */
#define GQ_CUDA_DRIVER_FUNCTIONS(X)                                                                               \
  X(cuInit, CUresult, (unsigned int flags))                                                                       \
  X(cuDriverGetVersion, CUresult, (int *version))                                                                 \
  X(cuDeviceGetCount, CUresult, (int *count))                                                                     \
  X(cuDeviceGet, CUresult, (CUdevice * device, int ordinal))                                                      \
  X(cuDeviceGetName, CUresult, (char *name, int len, CUdevice device))                                            \
  X(cuDeviceGetAttribute, CUresult, (int *value, int attribute, CUdevice device))                                 \
  X(cuDevicePrimaryCtxRetain, CUresult, (CUcontext * ctx, CUdevice device))                                       \
  X(cuDevicePrimaryCtxRelease_v2, CUresult, (CUdevice device))                                                    \
  X(cuCtxSetCurrent, CUresult, (CUcontext ctx))                                                                   \
  X(cuCtxSynchronize, CUresult, (void))                                                                           \
  X(cuModuleLoadData, CUresult, (CUmodule * module, const void *image))                                           \
  X(cuModuleUnload, CUresult, (CUmodule module))                                                                  \
  X(cuModuleGetFunction, CUresult, (CUfunction * function, CUmodule module, const char *name))                    \
  X(cuMemAlloc_v2, CUresult, (CUdeviceptr * ptr, size_t bytes))                                                   \
  X(cuMemFree_v2, CUresult, (CUdeviceptr ptr))                                                                    \
  X(cuMemcpyHtoD_v2, CUresult, (CUdeviceptr dst, const void *src, size_t bytes))                                  \
  X(cuMemcpyDtoH_v2, CUresult, (void *dst, CUdeviceptr src, size_t bytes))                                        \
  X(cuLaunchKernel, CUresult,                                                                                     \
    (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,           \
     unsigned int bz, unsigned int shared, CUstream stream, void **params, void **extra))                         \
  X(cuGetErrorName, CUresult, (CUresult error, const char **name))

#define GQ_CUBLAS_FUNCTIONS(X)                                                                                    \
  X(cublasCreate_v2, cublasStatus_t, (cublasHandle_t * handle))                                                   \
  X(cublasDestroy_v2, cublasStatus_t, (cublasHandle_t handle))                                                    \
  X(cublasGetVersion_v2, cublasStatus_t, (cublasHandle_t handle, int *version))                                   \
  X(cublasSetMathMode, cublasStatus_t, (cublasHandle_t handle, int mode))                                         \
  X(cublasSgemm_v2, cublasStatus_t,                                                                               \
    (cublasHandle_t handle, int transa, int transb, int m, int n, int k, const float *alpha, const float *a,      \
     int lda, const float *b, int ldb, const float *beta, float *c, int ldc))

#endif
