// unit/device/device_layers_test.cpp built by nvcc for THRUST_DEVICE_SYSTEM_CUDA: one code,
// two systems.
#include "../unit/device/device_layers_test.cpp"
