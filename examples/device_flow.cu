// device_flow.cpp built by nvcc for THRUST_DEVICE_SYSTEM_CUDA: one source, two systems.
#include "device_flow.cpp"
