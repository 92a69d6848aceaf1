// device_throughput.cpp built by nvcc for THRUST_DEVICE_SYSTEM_CUDA: the GPU benchmark.
#include "device_throughput.cpp"
