// unit/device/device_chains_test.cpp built by nvcc for THRUST_DEVICE_SYSTEM_CUDA: one code,
// two systems.
#include "../unit/device/device_chains_test.cpp"
