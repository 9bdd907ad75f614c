// The OpenCL C API through the ICD loader (Debian: ocl-icd-opencl-dev,
// opencl-c-headers). Pinned to OpenCL 1.2: the runtime uses nothing newer, so
// any 1.2 driver (pocl, Mesa Clover, AMD's legacy stack for gfx803) runs it.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <CL/cl_ext.h>
