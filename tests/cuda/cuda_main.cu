// The main of unit_device_cuda: Catch2's runner, after checking that a CUDA device
// answers. Without one the program says so and exits with 77, which ctest reports as
// skipped (SKIP_RETURN_CODE), not passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <cstdio>

int main(int argc, char* argv[]) {
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    std::printf("no CUDA device answers (%s): the CUDA tests are skipped\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  std::printf("CUDA device 0: %s\n", p.name);
  return Catch::Session().run(argc, argv);
}
